# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the inventory into the validated MPCPU site model."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import reports
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model as _site_model


def site_model(site, groups, hostvars, invalid_ok=False, strict_options=False):
    """Validated site: networks, MPCPUs, PC parts, routers, rows, flows, per-host views and
    the site's warnings.

    An invalid site is an error listing every problem, or with ``invalid_ok`` None (the caller
    lists the problems with ``site_check``: the valid case, by far the common one, validates
    once).
    """
    model, errors, _warnings = _site_model.assess_site(
        site, groups, hostvars, strict_options=strict_options
    )
    if errors and not invalid_ok:
        raise AnsibleFilterError(str(_site_model.SiteModelError(errors))) from None
    return model


def site_errors(site, groups, hostvars):
    """Every problem with the inventory, one message per problem naming host and field."""
    return _site_model.site_errors(site, groups, hostvars)


def site_check(site, groups, hostvars, strict_options=False):
    """The problems, the warnings and the port matrix, from one pass over the inventory
    (``strict_options``: an undeclared option in a role's namespace is a problem, not a
    warning).

    The model itself is left out: handing 10,000s of flows to Ansible as a task result costs
    seconds per thousand MPCPUs; publish it with ``site_model`` only where plays read it.
    """
    model, errors, warnings = _site_model.assess_site(
        site, groups, hostvars, compile_flows=False, strict_options=strict_options
    )
    return {
        "errors": errors,
        "warnings": warnings,
        "matrix": reports.port_matrix_summary(model) if model else [],
    }


def site_host_view(model, host, missing_ok=False):
    """What one host plays: rows with programmed ports, addresses, flows, networks of the ends.

    A host the site does not have is an error, or with ``missing_ok`` plays nothing.
    """
    try:
        return _site_model.host_view(model, host, missing_ok)
    except (KeyError, TypeError):
        raise AnsibleFilterError(
            "site_host_view: %r is not a host of the compiled site model" % (host,)
        ) from None


def appendix_d_rows(_ignored=None):
    """The table itself, as the guide prints it."""
    return appendix_d.as_dicts()


def appendix_d_groups(_ignored=None, initiator=None, role=None, routers=False):
    """The host pattern of the PC-part groups the table names, in table order: every part, or
    those of the rows ``initiator`` starts, or the part of the row ``role`` sets up; with
    ``routers`` the router group too."""
    if initiator not in (None, appendix_d.PC, appendix_d.MPCPU):
        raise AnsibleFilterError(
            "appendix_d_groups: initiator %r is not pc or mpcpu" % (initiator,)
        )
    try:
        rows = [appendix_d.row_of_role(role)] if role is not None else appendix_d.ROWS
    except KeyError as error:
        raise AnsibleFilterError("appendix_d_groups: %s" % error.args[0]) from None
    parts = [row.pc_part for row in rows if initiator in (None, appendix_d.initiator(row))]
    groups = sorted(set(parts), key=parts.index) + ([appendix_d.ROUTER_GROUP] if routers else [])
    return ":".join(groups)


class FilterModule(object):
    def filters(self):
        return {
            "site_model": site_model,
            "site_errors": site_errors,
            "site_check": site_check,
            "site_host_view": site_host_view,
            "appendix_d_rows": appendix_d_rows,
            "appendix_d_groups": appendix_d_groups,
        }
