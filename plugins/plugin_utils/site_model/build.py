# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry points: validate the inventory, then compile the model; every problem listed once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options, site_warnings
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import (
    Problems,
    SiteModelError,
    merged,
    problem,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import (
    crosscheck,
    dhcp_names,
    flows,
    hosts,
    pairs,
    protocol,
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
    platforms = settings.check_appliance_routers(groups, hostvars, problems)
    for router in routers:
        router["platform"] = platforms.get(router["name"])
    managed = set(pc_hosts) | set(groups.get(appendix_d.ROUTER_GROUP, ()))
    crosscheck.check_managed_addresses(managed, hostvars, devices, problems)
    crosscheck.check_unique(
        crosscheck.address_owners(devices, pc_hosts, routers), "address", problems
    )
    crosscheck.check_unique([(d["name"], "mpcpu_mac", d["mac"]) for d in devices], "MAC", problems)
    names = set(groups.get(appendix_d.DEVICE_GROUP, ()))
    pairs.check_pairs(names, hostvars, devices, problems, reach=(routers, pc_hosts))
    dhcp_names.set_hostnames(devices, hostvars, problems)
    settings.check_dedicated_pc_hosts(networks, pc_hosts, routers, hostvars, problems)
    return devices, parts, routers, pc_hosts


def _validate(site, groups, hostvars, problems):
    networks, management, rows = _check_settings(site, problems)
    devices, parts, routers, pc_hosts = _check_hosts(groups, hostvars, networks, problems)
    protocol.set_device_protocols(
        protocol.check_site_protocol(site, problems),
        groups.get(appendix_d.DEVICE_GROUP, ()),
        devices,
        hostvars,
        problems,
    )
    settings.check_dedicated_management(networks, management, problems)
    extra_flows = settings.resolve_extra_flows(
        settings.check_extra_flows(site, problems), networks, (devices, pc_hosts, routers), problems
    )
    crosscheck.check_parts_played(rows, parts, groups, problems)
    crosscheck.check_near_miss_groups(groups, problems)
    crosscheck.check_pc_ports(rows, parts, problems)
    crosscheck.check_firmware_row(rows, devices, problems)
    return {
        "networks": networks,
        "management": management,
        "rows": rows,
        "devices": devices,
        "parts": parts,
        "routers": routers,
        "extra_flows": extra_flows,
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
        raise SiteModelError(merged(problems))
    model = flows.site(site.get("name", "site"), found)
    model["extra_flows"] = found["extra_flows"]
    role_options.check_inventory(model, hostvars, problems)
    if problems:
        raise SiteModelError(merged(problems))
    if compile_flows:
        model["flows"] = flows.compile_flows(found["rows"], found["devices"], found["parts"])
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


def assess_site(site, groups, hostvars, compile_flows=True, strict_options=False):
    """``(model, errors, warnings)``: ``check_site`` and, on a valid site, what it allows but
    probably does not mean (``site_warnings``), also kept in the model as ``warnings``; with
    ``strict_options`` an undeclared option in a role's namespace is an error and the model
    None."""
    model, errors = check_site(site, groups, hostvars, compile_flows)
    if model is None:
        return None, errors, []
    errors, warnings = site_warnings.site_warnings(model, HostVarsOnce(hostvars), strict_options)
    if errors:
        return None, errors, warnings
    model["warnings"] = warnings
    return model, errors, warnings
