# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site-wide settings of ``mpcpu_site``: networks, management networks, rows in use and
the ports the site programmed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import port_problem
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.fields import (
    NAME_PATTERN,
    as_mapping,
    parse_cidr,
    parse_ipv4,
    usable_in,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    host_vars_of,
)

_text = appendix_d.value_text


NETWORK_KINDS = ("mpcpu", "shared", "pc", "management")

# The kinds of network an MPCPU may sit on. ``mpcpu``: dedicated to MPCPUs (beside them only
# the routers' gateway addresses and single management addresses); the firewalls treat the
# whole network as MPCPU traffic. ``shared``: MPCPUs among other hosts (a flat site, a CCTV
# VLAN with cameras); the firewalls match the MPCPUs by address and leave the others alone.
DEDICATED = "mpcpu"
SHARED = "shared"
MPCPU_KINDS = (DEDICATED, SHARED)

SITE_KEYS = (
    "name",
    "networks",
    "management_networks",
    "rows",
    "port_overrides",
    "device_protocol",
    "extra_flows",
)

NETWORK_KEYS = ("name", "cidr", "gateway", "kind")

PORT_FIELDS = ("mpcpu_port", "pc_port")

# An MPCPU network needs room for the device and the gateway or server it talks to.
MAX_MPCPU_PREFIX = 30

# The port Ansible reaches every managed host on: no row may be programmed onto it.
SSH = ("tcp", 22)

DHCP_ROW = appendix_d.row_of_role("dhcp").id


class _Networks(list):
    """The site's networks. ``complete`` is false when some network could not be read at all:
    an address outside the others is then not reported (it may be in the unreadable one)."""

    complete = True


def check_networks(site, problems):
    networks = site.get("networks")
    parsed = _Networks()
    if not isinstance(networks, list) or not networks:
        problems.add("mpcpu_site", "networks", "give at least one network (name, cidr, kind)")
        parsed.complete = False
        return parsed
    for index, network in enumerate(networks):
        parsed_network = _check_network(index, network, problems)
        if parsed_network:
            parsed.append(parsed_network)
        else:
            parsed.complete = False
    _check_network_clashes(parsed, problems)
    return parsed


def _check_network(index, network, problems):
    where = "mpcpu_site.networks[%d]" % index
    if as_mapping(network) is None:
        problems.add(where, "networks", "each network is a mapping with name, cidr and kind")
        return None
    for key in sorted(set(network) - set(NETWORK_KEYS), key=str):
        problems.add(where, str(key), "unknown key (known: %s)" % ", ".join(NETWORK_KEYS))
    name = network.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.add(where, "name", "%s is not a valid network name" % _text(name))
    cidr = parse_cidr(network.get("cidr"))
    if cidr is None:
        problems.add(
            where, "cidr", "%s is not an IPv4 network in CIDR form" % _text(network.get("cidr"))
        )
    kind = network.get("kind")
    if "kind" not in network:
        problems.add(
            where, "kind", "missing: say what the network holds (%s)" % ", ".join(NETWORK_KINDS)
        )
    elif not isinstance(kind, str) or kind not in NETWORK_KINDS:
        problems.add(where, "kind", "%s is not one of %s" % (_text(kind), ", ".join(NETWORK_KINDS)))
    elif kind in MPCPU_KINDS and cidr is not None and cidr.prefixlen > MAX_MPCPU_PREFIX:
        problems.add(
            where,
            "cidr",
            "%s holds no room for an MPCPU and the gateway or server it talks to: an MPCPU "
            "network is a /%d or larger" % (cidr, MAX_MPCPU_PREFIX),
        )
    gateway_ip = _check_gateway(where, network, cidr, problems)
    if cidr is None:
        return None
    # A network refused for its name or kind still holds its addresses: hosts in it are not
    # reported again as outside every network.
    broken = not isinstance(name, str) or not NAME_PATTERN.match(name) or kind not in NETWORK_KINDS
    return {
        "name": name if isinstance(name, str) else "networks[%d]" % index,
        "cidr": cidr,
        "gateway": gateway_ip,
        "kind": None if broken else kind,
        "broken": broken,
    }


def _check_gateway(where, network, cidr, problems):
    gateway = network.get("gateway")
    if gateway is None:
        return None
    gateway_ip = parse_ipv4(gateway)
    if gateway_ip is None:
        problems.add(where, "gateway", "%s is not a valid IPv4 address" % _text(gateway))
    elif cidr is not None and not usable_in(gateway_ip, cidr):
        problems.add(where, "gateway", "%s is not a host address of %s" % (gateway_ip, cidr))
    return gateway_ip


def _check_network_clashes(networks, problems):
    seen_names = set()
    for index, network in enumerate(networks):
        if network["name"] in seen_names:
            problems.add(
                "mpcpu_site.networks", "name", "network %r is defined twice" % network["name"]
            )
        seen_names.add(network["name"])
        for other in networks[:index]:
            if network["cidr"] in other["cidr"] or other["cidr"] in network["cidr"]:
                problems.add(
                    "mpcpu_site.networks",
                    "cidr",
                    "%s (%s) overlaps %s (%s)"
                    % (network["cidr"], network["name"], other["cidr"], other["name"]),
                )


def check_management(site, problems):
    management = site.get("management_networks")
    if not isinstance(management, list) or not management:
        problems.add(
            "mpcpu_site",
            "management_networks",
            "give the networks the controller manages hosts from; firewalls keep them open",
        )
        return []
    parsed = []
    for index, text in enumerate(management):
        # IPv6 too: firewalls keep SSH open to IPv6 management networks (never from an
        # MPCPU-facing interface); MPCPUs and their networks stay IPv4.
        cidr = parse_cidr(text) or parse_cidr(text, version=6)
        if cidr is None:
            problems.add(
                "mpcpu_site.management_networks[%d]" % index,
                "cidr",
                "%s is not an IPv4 or IPv6 network in CIDR form" % _text(text),
            )
        else:
            parsed.append(cidr)
    return parsed


class _Rows(list):
    """The rows in use. ``complete`` is false when some entry of ``rows`` could not be read:
    which rows the site meant is then unknown, so no host is refused for playing one."""

    complete = True


def check_rows(site, problems):
    """The rows in use, in table order, each with the ports the site programmed."""
    row_ids = site.get("rows", list(appendix_d.ROWS_BY_ID))
    rows = _Rows()
    if not isinstance(row_ids, list) or not row_ids:
        problems.add("mpcpu_site", "rows", "give a non-empty list of Appendix D row ids")
        row_ids = []
        rows.complete = False
    known = set()
    for row_id in row_ids:
        if not isinstance(row_id, str) or row_id not in appendix_d.ROWS_BY_ID:
            problems.add(
                "mpcpu_site",
                "rows",
                "unknown Appendix D row %s (known: %s)"
                % (_text(row_id), ", ".join(appendix_d.ROWS_BY_ID)),
            )
            rows.complete = False
        else:
            known.add(row_id)
    programmed = _check_overrides(site, problems)
    rows.extend(programmed[row_id] for row_id in appendix_d.ROWS_BY_ID if row_id in known)
    return rows


def _check_overrides(site, problems):
    """Every row with its programmed ports; overrides of rows not in use are checked too."""
    overrides = site.get("port_overrides")
    if overrides is None:
        overrides = {}
    if as_mapping(overrides) is None:
        problems.add("mpcpu_site", "port_overrides", "must map row ids to {mpcpu_port, pc_port}")
        overrides = {}
    for row_id in sorted(overrides, key=str):
        if not isinstance(row_id, str) or row_id not in appendix_d.ROWS_BY_ID:
            problems.add(
                "mpcpu_site.port_overrides",
                str(row_id),
                "%s is not an Appendix D row id (known: %s)"
                % (_text(row_id), ", ".join(appendix_d.ROWS_BY_ID)),
            )
    return dict(
        (table_row.id, _programmed_row(table_row, overrides.get(table_row.id), problems))
        for table_row in appendix_d.ROWS
    )


def _programmed_row(table_row, override, problems):
    if override is None:
        return table_row
    where = "mpcpu_site.port_overrides.%s" % table_row.id
    if as_mapping(override) is None:
        problems.add(where, "port_overrides", "must be a mapping with mpcpu_port and/or pc_port")
        return table_row
    ports = {}
    for field in sorted(override, key=str):
        value = override[field]
        if field not in PORT_FIELDS:
            problems.add(where, str(field), "unknown key (known: %s)" % ", ".join(PORT_FIELDS))
        elif port_problem(value):
            problems.add(where, field, port_problem(value))
        else:
            ports[field] = value
    programmed = appendix_d.with_ports(table_row, **ports)
    for field, value in sorted(ports.items()):
        if (table_row.protocol, value) == SSH and field == "pc_port":
            problems.add(
                where,
                field,
                "TCP 22 is SSH, which Ansible and the firewalls keep for managing the host: "
                "programme another port",
            )
    return programmed


def check_dhcp_ports(rows, problems):
    """Kea takes its ports from its command line and MPCPUs broadcast to the table's."""
    for table_row in rows:
        original = appendix_d.row(table_row.id)
        if table_row.id == DHCP_ROW and table_row != original:
            problems.add(
                "mpcpu_site.port_overrides.%s" % DHCP_ROW,
                "pc_port" if table_row.pc_port != original.pc_port else "mpcpu_port",
                "the dhcp role serves DHCP on the table's ports only (server %d, client %d)"
                % (original.pc_port, original.mpcpu_port),
            )


def check_device_ports(rows, problems):
    """On the MPCPU itself, two rows in use cannot share a protocol and port."""
    users = {}
    for table_row in rows:
        if table_row.mpcpu_port is not None:
            users.setdefault((table_row.protocol, table_row.mpcpu_port), []).append(table_row.id)
    for (protocol, port), row_ids in sorted(users.items()):
        if len(row_ids) > 1:
            problems.add(
                "mpcpu_site.port_overrides",
                "mpcpu_port",
                "rows %s would all use %s/%d on every MPCPU"
                % (", ".join(row_ids), protocol.upper(), port),
            )


# --- networks dedicated to MPCPUs: nothing else on them -------------------------------------

_CHOOSE_SHARED = (
    "if it holds other hosts too, declare it kind: shared (the firewalls then match the MPCPUs "
    "by address and leave the others alone)"
)


def check_dedicated_management(networks, management, problems):
    """A management network reaching into a dedicated MPCPU network makes it someone else's
    network too; a single address (the controller's own) is the one exception."""
    for index, cidr in enumerate(management):
        if cidr.version != 4 or cidr.prefixlen == 32:
            continue
        for network in networks:
            if network["kind"] == DEDICATED and (
                cidr in network["cidr"] or network["cidr"] in cidr
            ):
                problems.add(
                    "mpcpu_site.management_networks[%d]" % index,
                    "cidr",
                    "%s reaches into %s (%s), which kind: mpcpu declares dedicated to MPCPUs: "
                    "%s; otherwise name only the controller's own addresses there (/32)"
                    % (cidr, network["name"], network["cidr"], _CHOOSE_SHARED),
                )


def check_dedicated_pc_hosts(networks, pc_hosts, routers, hostvars, problems):
    """A PC host whose whole LAN is a dedicated MPCPU network: its service address there and
    the address Ansible manages it at too (a flat site declared kind: mpcpu). A server with a
    leg of its own into the MPCPU network (managed at another address) and a router serving
    DHCP there are what a dedicated network is for."""
    router_addresses = set(address for router in routers for address in router["addresses"])
    for name in sorted(pc_hosts):
        host = pc_hosts[name]
        if not host or host["ip"] in router_addresses:
            continue
        network = next((n for n in networks if parse_ipv4(host["ip"]) in n["cidr"]), None)
        if network is None or network["kind"] != DEDICATED:
            continue
        managed_at = parse_ipv4(host_vars_of(hostvars, name).get("ansible_host"))
        if host["field"] == "ansible_host" or (
            managed_at is not None and managed_at in network["cidr"]
        ):
            problems.add(
                name,
                host["field"],
                "%s is in %s (%s), which kind: mpcpu declares dedicated to MPCPUs, and the host "
                "is managed there too: %s; otherwise give the host an address on another "
                "network" % (host["ip"], network["name"], network["cidr"], _CHOOSE_SHARED),
            )


# --- extra flows: what the site needs beside Appendix D ----------------------------------------

EXTRA_FLOW_KEYS = ("name", "protocol", "from", "to", "port")

EXTRA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")

# Protocols by name; any other IP protocol is given by its number (0-255).
PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "vrrp": 112}
PORTED = ("tcp", "udp")

# VRRP advertisements go to this group (RFC 5798): every VRRP flow is let through to it.
VRRP_GROUP = "224.0.0.18/32"


def check_extra_flows(site, problems):
    """(index, entry) of the entries of ``extra_flows`` with a valid form, ends still names."""
    entries = site.get("extra_flows")
    if entries is None:
        return []
    if not isinstance(entries, list):
        problems.add("mpcpu_site", "extra_flows", "give a list of {name, protocol, from, to, port}")
        return []
    checked = []
    names = set()
    for index, entry in enumerate(entries):
        flow = _check_extra_flow("mpcpu_site.extra_flows[%d]" % index, entry, problems)
        if flow and flow["name"] in names:
            problems.add(
                "mpcpu_site.extra_flows[%d]" % index, "name", "%r is used twice" % flow["name"]
            )
        elif flow:
            names.add(flow["name"])
            checked.append((index, flow))
    return checked


def _check_extra_flow(where, entry, problems):
    if as_mapping(entry) is None:
        problems.add(
            where, "extra_flows", "each extra flow is a mapping with name, protocol, from, to"
        )
        return None
    count = len(problems)
    for key in sorted(set(entry) - set(EXTRA_FLOW_KEYS), key=str):
        problems.add(where, str(key), "unknown key (known: %s)" % ", ".join(EXTRA_FLOW_KEYS))
    name = entry.get("name")
    if not isinstance(name, str) or not EXTRA_NAME.match(name):
        problems.add(
            where,
            "name",
            "%s is not a flow name: lower-case letters, digits and _, a letter first, up to 24 "
            "(it names the firewalls' sets and rules)" % _text(name),
        )
    elif name in appendix_d.ROWS_BY_ID:
        problems.add(
            where, "name", "%s is an Appendix D row id: name the site's flow otherwise" % name
        )
    protocol = _extra_protocol(where, entry.get("protocol"), problems)
    port = _extra_port(where, protocol, entry, problems)
    ends = [_extra_end_names(where, key, entry.get(key), problems) for key in ("from", "to")]
    if len(problems) > count:
        return None
    return {"name": name, "protocol": protocol, "port": port, "from": ends[0], "to": ends[1]}


def _extra_protocol(where, value, problems):
    if isinstance(value, str) and value.lower() in PROTOCOL_NUMBERS:
        return value.lower()
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        by_number = dict((number, name) for name, number in PROTOCOL_NUMBERS.items())
        return by_number.get(value, value)
    problems.add(
        where,
        "protocol",
        "%s is not one of %s or an IP protocol number (0-255)"
        % (_text(value), ", ".join(PROTOCOL_NUMBERS)),
    )
    return None


def _extra_port(where, protocol, entry, problems):
    port = entry.get("port")
    if protocol in PORTED:
        if port is None:
            problems.add(where, "port", "missing: a %s flow needs its destination port" % protocol)
        elif port_problem(port):
            problems.add(where, "port", port_problem(port))
        return port
    if port is not None and protocol is not None:
        problems.add(where, "port", "%s has no ports: leave port out" % protocol)
    return None


def _extra_end_names(where, key, value, problems):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.add(
            where,
            key,
            "give a host or network name of the site, an IPv4 address or network, or a list "
            "of them",
        )
        return None
    return value


def _host_addresses(devices, pc_hosts, routers):
    addresses = {}
    for device in devices:
        addresses.setdefault(device["name"], set()).add(device["ip"])
    for name, host in pc_hosts.items():
        if host:
            addresses.setdefault(name, set()).add(host["ip"])
    for router in routers:
        addresses.setdefault(router["name"], set()).update(router["addresses"])
    return addresses


def _end_cidrs(where, key, names, known, problems):
    cidrs = []
    for name in names:
        if name in known:
            cidrs += known[name]
            continue
        cidr = parse_cidr(name) or parse_cidr(name + "/32")
        if cidr is None:
            problems.add(
                where,
                key,
                "%s is neither a host nor a network of the site, nor an IPv4 address or network"
                % _text(name),
            )
        else:
            cidrs.append(str(cidr))
    return cidrs


def resolve_extra_flows(flows, networks, hosts, problems):
    """Each extra flow with its ends as CIDRs (``src``, ``dst``): a ``shapes.ExtraFlow``.
    ``hosts`` is (MPCPUs, PC hosts by name, routers) as validated."""
    known = dict(
        (name, ["%s/32" % ip for ip in sorted(ips)])
        for name, ips in _host_addresses(*hosts).items()
    )
    for network in networks:
        known.setdefault(network["name"], [str(network["cidr"])])
    resolved = []
    for index, flow in flows:
        where = "mpcpu_site.extra_flows[%d]" % index
        src = _end_cidrs(where, "from", flow["from"], known, problems)
        dst = _end_cidrs(where, "to", flow["to"], known, problems)
        if flow["protocol"] == "vrrp":
            dst.append(VRRP_GROUP)
        resolved.append(dict(flow, src=sorted(set(src)), dst=sorted(set(dst))))
    return resolved


# --- routers the collection renders but never logs in to ---------------------------------------

# The appliance targets (firewall.appliance.TARGETS, rendered by Aerleon) and the IOS ACL
# renderer; tests/unit checks the list against the firewall's targets.
ROUTER_PLATFORMS = (
    "arista",
    "cisco",
    "cisco_ios",
    "ciscoasa",
    "cisconx",
    "juniper",
    "paloalto",
    "srx",
)
ROUTER_PLATFORM = "mpcpu_router_platform"
# The firewall role's options: they configure a Linux host the role logs in to.
LINUX_ONLY_PREFIX = "firewall_"


def check_appliance_routers(groups, hostvars, problems):
    """{router: platform} of the routers marked ``mpcpu_router_platform``: rendered for
    review, never logged in to, so nothing may ask the collection to configure them."""
    pc_parts = set(appendix_d.PC_PARTS)
    platforms = {}
    for name in sorted(groups.get(appendix_d.ROUTER_GROUP, ())):
        host_vars = host_vars_of(hostvars, name)
        if ROUTER_PLATFORM not in host_vars:
            continue
        platform = host_vars[ROUTER_PLATFORM]
        if not isinstance(platform, str) or platform not in ROUTER_PLATFORMS:
            problems.add(
                name,
                ROUTER_PLATFORM,
                "%s is not one of %s" % (_text(platform), ", ".join(ROUTER_PLATFORMS)),
            )
            continue
        platforms[name] = platform
        for key in sorted(k for k in host_vars if str(k).startswith(LINUX_ONLY_PREFIX)):
            problems.add(
                name,
                str(key),
                "an appliance router (%s: %s) is rendered for review, never logged in to: the "
                "firewall role's options do not apply; remove it" % (ROUTER_PLATFORM, platform),
            )
        parts = sorted(g for g, members in groups.items() if g in pc_parts and name in members)
        if parts:
            problems.add(
                name,
                "groups",
                "an appliance router (%s: %s) is never logged in to, so it cannot play %s: "
                "give the part to a managed host" % (ROUTER_PLATFORM, platform, ", ".join(parts)),
            )
    return platforms
