# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site-wide settings of ``mpcpu_site``: networks, management networks, rows in use and
the ports the site programmed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import port_problem
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.fields import (
    NAME_PATTERN,
    as_mapping,
    parse_cidr,
    parse_ipv4,
    usable_in,
)

_text = appendix_d.value_text


NETWORK_KINDS = ("mpcpu", "pc", "management")

SITE_KEYS = ("name", "networks", "management_networks", "rows", "port_overrides")

NETWORK_KEYS = ("name", "cidr", "gateway", "kind", "dhcp_relays")

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
    elif kind == "mpcpu" and cidr is not None and cidr.prefixlen > MAX_MPCPU_PREFIX:
        problems.add(
            where,
            "cidr",
            "%s holds no room for an MPCPU and the gateway or server it talks to: an MPCPU "
            "network is a /%d or larger" % (cidr, MAX_MPCPU_PREFIX),
        )
    gateway_ip = _check_gateway(where, network, cidr, problems)
    relays = check_dhcp_relays(where, network, cidr, problems)
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
        "dhcp_relays": relays,
        "dhcp_relays_given": network.get("dhcp_relays") is not None,
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


def check_dhcp_relays(where, network, cidr, problems):
    """The relay addresses (giaddr) that forward the network's DHCP broadcasts to the site's
    DHCP servers: each the address of a router's interface inside this MPCPU network."""
    relays = network.get("dhcp_relays")
    if relays is None:
        return []
    if network.get("kind") != "mpcpu":
        problems.add(where, "dhcp_relays", "only a network of kind mpcpu has DHCP relays")
        return []
    if not isinstance(relays, list):
        problems.add(where, "dhcp_relays", "must be a list of the relays' addresses in the network")
        return []
    parsed = []
    for index, text in enumerate(relays):
        field = "dhcp_relays[%d]" % index
        address = parse_ipv4(text)
        if address is None:
            problems.add(where, field, "%s is not a valid IPv4 address" % _text(text))
        elif cidr is not None and not usable_in(address, cidr):
            problems.add(
                where,
                field,
                "%s is not a host address of %s: a relay forwards the broadcasts of the network "
                "its address is in (its giaddr)" % (address, cidr),
            )
        elif str(address) in parsed:
            problems.add(where, field, "%s is listed twice" % address)
        else:
            parsed.append(str(address))
    return parsed


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
