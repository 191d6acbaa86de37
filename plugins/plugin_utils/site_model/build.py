# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry points: validate the inventory, then compile the model; every problem listed once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import (
    Problems,
    SiteModelError,
    problem,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import (
    crosscheck,
    flows,
    hosts,
    settings,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.fields import as_mapping
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    HostVarsOnce,
    clean_groups,
    inventory_hosts,
)


def _check_settings(site, problems):
    for key in sorted(set(site) - set(settings.SITE_KEYS), key=str):
        problems.add(
            "mpcpu_site", str(key), "unknown key (known: %s)" % ", ".join(settings.SITE_KEYS)
        )
    networks = settings.check_networks(site, problems)
    management = settings.check_management(site, problems)
    rows = settings.check_rows(site, problems)
    settings.check_dhcp_ports(rows, problems)
    settings.check_device_ports(rows, problems)
    return networks, management, rows


def _check_hosts(groups, hostvars, networks, problems):
    crosscheck.check_conflicting_groups(groups, problems)
    hosts.check_host_keys(inventory_hosts(groups), hostvars, groups, problems)
    devices = hosts.collect_devices(groups, hostvars, networks, problems)
    parts, pc_hosts = hosts.collect_parts(groups, hostvars, networks, problems)
    routers = hosts.collect_routers(groups, hostvars, networks, problems)
    managed = set(pc_hosts) | set(groups.get(appendix_d.ROUTER_GROUP, ()))
    crosscheck.check_managed_addresses(managed, hostvars, devices, problems)
    crosscheck.check_unique(
        crosscheck.address_owners(devices, pc_hosts, routers), "address", problems
    )
    crosscheck.check_unique([(d["name"], "mpcpu_mac", d["mac"]) for d in devices], "MAC", problems)
    hosts.add_router_addresses(parts, pc_hosts, routers, networks)
    return devices, parts, routers


def _validate(site, groups, hostvars, problems):
    networks, management, rows = _check_settings(site, problems)
    devices, parts, routers = _check_hosts(groups, hostvars, networks, problems)
    crosscheck.check_parts_played(rows, parts, groups, problems)
    crosscheck.check_pc_ports(rows, parts, problems)
    crosscheck.check_firmware_row(rows, devices, problems)
    crosscheck.check_dhcp_reach(rows, networks, devices, parts, problems, routers=routers)
    return {
        "networks": networks,
        "management": management,
        "rows": rows,
        "devices": devices,
        "parts": parts,
        "routers": routers,
    }


def _refuse_unless_mapping(site):
    if as_mapping(site) is None:
        raise SiteModelError(
            [
                problem(
                    "mpcpu_site",
                    "mpcpu_site",
                    "define it as a mapping in group_vars/all (see README)",
                )
            ]
        )


def build_site(site, groups, hostvars, compile_flows=True):
    """Validate the inventory and compile the site (a ``shapes.Model``); raise SiteModelError
    listing every problem.

    With ``compile_flows=False`` the model stops before its flows and host views (what a
    check and the port matrix need; the flows of a large site are most of the work).
    """
    _refuse_unless_mapping(site)
    problems = Problems()
    hostvars = HostVarsOnce(hostvars)
    found = _validate(site, clean_groups(groups), hostvars, problems)
    if problems:
        raise SiteModelError(problems)
    model = flows.site(site.get("name", "site"), found)
    role_options.check_inventory(model, hostvars, problems)
    if problems:
        raise SiteModelError(problems)
    if compile_flows:
        model["flows"] = flows.compile_flows(
            found["rows"], found["devices"], found["parts"], model["networks"]
        )
        model["hosts"] = flows.host_views(model)
    return model


def check_site(site, groups, hostvars, compile_flows=True):
    """``(model, problems)``: the model and no problems, or None and every problem."""
    try:
        return build_site(site, groups, hostvars, compile_flows), []
    except SiteModelError as error:
        return None, error.errors


def site_errors(site, groups, hostvars):
    """The list of problems with the inventory; empty when the site is valid."""
    return check_site(site, groups, hostvars)[1]
