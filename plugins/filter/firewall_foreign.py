# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the other firewalls of a host that would drop one of its Appendix D flows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import foreign, policy

MODES = ("refuse", "adjust")


def _tables(nft_json, legacy_save):
    try:
        ruleset = json.loads(nft_json) if isinstance(nft_json, str) else nft_json
    except ValueError as error:
        raise AnsibleFilterError("firewall_foreign_rulesets: nft -j output: %s" % error) from None
    tables = foreign.tables_from_nft(ruleset or {})
    tables.update(foreign.tables_from_iptables_save(legacy_save or ""))
    return tables


def firewall_foreign_rulesets(
    model, host, nft_json, legacy_save="", mode="refuse", *, own_tables=(), **options
):
    """{"findings": [...], "refused": [lines], "adjusted": [lines], "adjust_file": text}."""
    if mode not in MODES:
        raise AnsibleFilterError(
            "firewall_foreign_rulesets: mode %r is not one of %s" % (mode, ", ".join(MODES))
        )
    own = [foreign.OWN_TABLE] + [tuple(pair) for pair in own_tables]
    try:
        host_policy = policy.build_host_policy(model, host, **options)
    except policy.FirewallPolicyError as error:
        raise AnsibleFilterError(str(error)) from None
    findings = foreign.find(host_policy, _tables(nft_json, legacy_save), own_tables=own)
    adjustable = [f for f in findings if mode == "adjust" and f.editable]
    refused = [f for f in findings if f not in adjustable]
    return {
        "findings": foreign.as_data(findings),
        "refused": [foreign.line(host, f) + foreign.hint(f, mode) for f in refused],
        "adjusted": [foreign.line(host, f) for f in adjustable],
        "adjust_file": foreign.adjust_file(foreign.adjustments(host_policy, adjustable)),
    }


class FilterModule(object):
    def filters(self):
        return {"firewall_foreign_rulesets": firewall_foreign_rulesets}
