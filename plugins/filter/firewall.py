# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that render a host's firewall from the compiled site model."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    cisco_ios,
    policy,
    targets,
)


def _host_policy(model, host, options):
    try:
        return policy.build_host_policy(model, host, **options)
    except policy.FirewallPolicyError as error:
        raise AnsibleFilterError(str(error)) from None
    except TypeError as error:
        raise AnsibleFilterError("firewall options: %s" % error) from None


def _render(target_name, host_policy):
    try:
        return targets.target(target_name).render(host_policy)
    except (KeyError, cisco_ios.CiscoRenderError) as error:
        raise AnsibleFilterError(str(error.args[0])) from None


def firewall_policy(model, host, **options):
    """The host's rules and named sets, as data (for reports and tests)."""
    return policy.as_data(_host_policy(model, host, options))


def firewall_files(model, host, target="nftables", **options):
    """Every file of ``target`` for ``host``, as {relative path: text}."""
    return _render(target, _host_policy(model, host, options))


def firewall_export_files(model, host, target_names, **options):
    """The files of several targets at once, as {"<target>/<relative path>": text}."""
    host_policy = _host_policy(model, host, options)
    try:
        return targets.render_files(host_policy, target_names)
    except (KeyError, cisco_ios.CiscoRenderError) as error:
        raise AnsibleFilterError(str(error.args[0])) from None


def firewall_ruleset(model, host, target="nftables", **options):
    """The main file a host loads: nftables' one file, or iptables' IPv4 file (``firewall_files``
    also gives ``mpcpu6.rules`` for ip6tables-restore)."""
    chosen = targets.TARGETS.get(target)
    if chosen is None or chosen.main_file is None:
        raise AnsibleFilterError(
            "firewall_ruleset: %r has no single ruleset file (use firewall_files)" % (target,)
        )
    return firewall_files(model, host, target, **options)[chosen.main_file]


def firewall_site_router_acl(model, **options):
    """Cisco IOS ACLs for one router joining every network of the site (change request)."""
    try:
        site_policy = policy.build_site_router_policy(model, **options)
    except policy.FirewallPolicyError as error:
        raise AnsibleFilterError(str(error)) from None
    if not policy.rules_in(site_policy, policy.FORWARD):
        return "! " + cisco_ios.NOTHING_CROSSES  # a flat site: an IOS comment, no ACL
    return _render("cisco_ios", site_policy)[targets.CiscoIos.main_file]


class FilterModule(object):
    def filters(self):
        return {
            "firewall_policy": firewall_policy,
            "firewall_files": firewall_files,
            "firewall_export_files": firewall_export_files,
            "firewall_ruleset": firewall_ruleset,
            "firewall_site_router_acl": firewall_site_router_acl,
        }
