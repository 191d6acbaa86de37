# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks across hosts: groups that conflict, shared addresses and MACs, parts nobody plays,
ports two rows share on one host, Ansible reaching a device, firmware without its row."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.fields import (
    names_text,
    parse_ipv4,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    host_vars_of,
)

FIRMWARE_ROW = appendix_d.row_of_role("devices").id

# A device cannot also be a PC: it would have to talk to itself across the table.
CONFLICTING_GROUPS = tuple(
    (appendix_d.DEVICE_GROUP, other) for other in appendix_d.PC_PARTS + (appendix_d.ROUTER_GROUP,)
)


def check_conflicting_groups(groups, problems):
    for first, second in CONFLICTING_GROUPS:
        for name in sorted(set(groups.get(first, ())) & set(groups.get(second, ()))):
            problems.add(name, "groups", "is in both %s and %s, which conflict" % (first, second))


def check_unique(entries, field, problems):
    """Each address (or MAC) belongs to one host; list every host that shares one."""
    owners = {}
    for entry_name, entry_field, value in entries:
        owners.setdefault(value, []).append((entry_name, entry_field))
    shared = [value for value, hosts in owners.items() if len(hosts) > 1]
    for value in sorted(shared):
        hosts = owners[value]
        names = sorted(set(name for name, _field in hosts))
        fields = set(entry_field for _name, entry_field in hosts)
        if len(names) > 1 and len(fields) == 1:
            # One line naming them all: the value is wrong on no host more than another.
            text = "%s %s is shared by these %d hosts; each needs its own"
            problems.add(names_text(names), fields.pop(), text % (field, value, len(names)))
        elif len(names) > 1:
            for name, entry_field in hosts:
                others = sorted(set(other for other, _field in hosts if other != name))
                problems.add(
                    name,
                    entry_field,
                    "%s %s is also used by %s" % (field, value, ", ".join(others)),
                )


def check_parts_played(rows, parts, groups, problems):
    in_use = set(table_row.pc_part for table_row in rows)
    for table_row in rows:
        if not groups.get(table_row.pc_part):
            problems.add(
                "groups",
                table_row.pc_part,
                "nobody plays the PC side of row %s (%s): add a host to the group or drop the row "
                "from mpcpu_site.rows" % (table_row.id, table_row.purpose),
            )
    for table_row in appendix_d.ROWS if rows.complete else ():
        if table_row.pc_part not in in_use and groups.get(table_row.pc_part):
            problems.add(
                "groups",
                table_row.pc_part,
                "%s %s the PC side of row %s (%s), which is not in mpcpu_site.rows: the "
                "role for it would refuse it; enable the row or empty the group"
                % (
                    names_text(groups[table_row.pc_part]),
                    "plays" if len(groups[table_row.pc_part]) == 1 else "play",
                    table_row.id,
                    table_row.purpose,
                ),
            )


# The groups the collection reads (verify's probe group too); Ansible's own two are not typos.
COLLECTION_GROUPS = tuple(sorted(set(appendix_d.PC_PARTS))) + (
    appendix_d.DEVICE_GROUP,
    appendix_d.ROUTER_GROUP,
    "mpcpu_commissioning_probes",
)
ANSIBLE_GROUPS = ("all", "ungrouped")
NEAR_MISS_CUTOFF = 0.85


def check_near_miss_groups(groups, problems):
    """A group the collection does not read, named almost like one it does, is a misspelling:
    its hosts play nothing. A child group (all its hosts also in the one it resembles) is not."""
    for group in sorted(set(groups) - set(COLLECTION_GROUPS) - set(ANSIBLE_GROUPS)):
        close = difflib.get_close_matches(group, COLLECTION_GROUPS, n=1, cutoff=NEAR_MISS_CUTOFF)
        if close and not set(groups[group]) <= set(groups.get(close[0], ())):
            problems.add(
                "groups",
                group,
                "not a group of the collection, so its hosts play nothing there; did you mean "
                "%s?" % close[0],
            )


def check_pc_ports(rows, parts, problems):
    """On one host, two rows cannot use the same protocol and fixed port."""
    users = {}
    for table_row in rows:
        if table_row.pc_port is None:
            continue
        for host in parts.get(table_row.pc_part, ()):
            key = (host["name"], table_row.protocol, table_row.pc_port)
            users.setdefault(key, []).append(table_row.id)
    for (name, protocol, port), row_ids in sorted(users.items()):
        if len(row_ids) > 1:
            problems.add(
                name,
                "port_overrides",
                "rows %s would all use %s/%d on this host"
                % (", ".join(row_ids), protocol.upper(), port),
            )


def check_managed_addresses(managed, hostvars, devices, problems):
    """Ansible must never SSH to an MPCPU: no managed host may be reached at a device's address."""
    device_ips = dict((device["ip"], device["name"]) for device in devices)
    for name in sorted(managed):
        text = host_vars_of(hostvars, name).get("ansible_host")
        address = parse_ipv4(text)
        if address is not None and str(address) in device_ips:
            problems.add(
                name,
                "ansible_host",
                "%s is the address of MPCPU %s: Ansible would connect to the device"
                % (address, device_ips[str(address)]),
            )


def check_firmware_row(rows, devices, problems):
    if FIRMWARE_ROW in [table_row.id for table_row in rows]:
        return
    for device in devices:
        if device["firmware"] is not None:
            problems.add(
                device["name"],
                "mpcpu_firmware",
                "firmware is sent over row time_firmware, which is not in mpcpu_site.rows",
            )


def address_owners(devices, pc_hosts, routers):
    entries = [(d["name"], "mpcpu_ip", d["ip"]) for d in devices]
    entries += [(h["name"], h["field"], h["ip"]) for h in pc_hosts.values() if h]
    for router in routers:
        own = [h["ip"] for h in pc_hosts.values() if h and h["name"] == router["name"]]
        entries += [
            (router["name"], "mpcpu_router_addresses", ip)
            for ip in router["addresses"]
            if ip not in own
        ]
    return entries
