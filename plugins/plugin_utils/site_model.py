# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site model: inventory in, validated MPCPU site and concrete Appendix D flows out.

Controller side only (uses netaddr). Validation collects every error before raising, each
message naming the host (or the ``mpcpu_site`` path) and the field, so an operator fixes a
broken inventory in one pass and no host is touched before it is clean.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import netaddr

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

NETWORK_KINDS = ("mpcpu", "pc", "management")
SITE_KEYS = ("name", "networks", "management_networks", "rows", "port_overrides")
NETWORK_KEYS = ("name", "cidr", "gateway", "kind")
FIRMWARE_KEYS = ("file", "version", "sha256")
PORT_FIELDS = ("mpcpu_port", "pc_port")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
SHA256_PATTERN = re.compile(r"^[0-9a-fA-F]{64}$")

# A device cannot also be a PC: it would have to talk to itself across the table.
CONFLICTING_GROUPS = tuple(
    (appendix_d.DEVICE_GROUP, other) for other in appendix_d.PC_PARTS + (appendix_d.ROUTER_GROUP,)
)


class SiteModelError(Exception):
    """The inventory does not describe a valid site; ``errors`` lists every problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(SiteModelError, self).__init__(
            "invalid MPCPU site (%d error%s):\n- %s"
            % (len(self.errors), "" if len(self.errors) == 1 else "s", "\n- ".join(self.errors))
        )


class _Errors(list):
    def add(self, where, field, message):
        self.append("%s: %s: %s" % (where, field, message))


def _parse_ipv4(text):
    if isinstance(text, str) and netaddr.valid_ipv4(text.strip()):
        return netaddr.IPAddress(text.strip(), 4)
    return None


def _parse_cidr(text, version=4):
    if not isinstance(text, str):
        return None
    try:
        network = netaddr.IPNetwork(text.strip(), version=version)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if "/" not in text or network.ip != network.network:
        return None
    return network


def _valid_port(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


# --- site-wide settings --------------------------------------------------------------------


def _check_networks(site, errors):
    networks = site.get("networks")
    if not isinstance(networks, list) or not networks:
        errors.add("mpcpu_site", "networks", "give at least one network (name, cidr, kind)")
        return []
    parsed = []
    for index, network in enumerate(networks):
        parsed_network = _check_network(index, network, errors)
        if parsed_network:
            parsed.append(parsed_network)
    _check_network_clashes(parsed, errors)
    return parsed


def _check_network(index, network, errors):
    where = "mpcpu_site.networks[%d]" % index
    if not isinstance(network, dict):
        errors.add(where, "networks", "each network is a mapping with name, cidr and kind")
        return None
    for key in sorted(set(network) - set(NETWORK_KEYS)):
        errors.add(where, key, "unknown key (known: %s)" % ", ".join(NETWORK_KEYS))
    name = network.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        errors.add(where, "name", "%r is not a valid network name" % (name,))
    cidr = _parse_cidr(network.get("cidr"))
    if cidr is None:
        errors.add(where, "cidr", "%r is not an IPv4 network in CIDR form" % (network.get("cidr"),))
    kind = network.get("kind", "mpcpu")
    if kind not in NETWORK_KINDS:
        errors.add(where, "kind", "%r is not one of %s" % (kind, ", ".join(NETWORK_KINDS)))
    gateway = network.get("gateway")
    gateway_ip = None
    if gateway is not None:
        gateway_ip = _parse_ipv4(gateway)
        if gateway_ip is None:
            errors.add(where, "gateway", "%r is not a valid IPv4 address" % (gateway,))
        elif cidr is not None and not _usable_in(gateway_ip, cidr):
            errors.add(where, "gateway", "%s is not a host address of %s" % (gateway_ip, cidr))
    if cidr is None or not isinstance(name, str):
        return None
    return {"name": name, "cidr": cidr, "gateway": gateway_ip, "kind": kind}


def _check_network_clashes(networks, errors):
    seen_names = set()
    for index, network in enumerate(networks):
        if network["name"] in seen_names:
            errors.add(
                "mpcpu_site.networks", "name", "network %r is defined twice" % network["name"]
            )
        seen_names.add(network["name"])
        for other in networks[:index]:
            if network["cidr"] in other["cidr"] or other["cidr"] in network["cidr"]:
                errors.add(
                    "mpcpu_site.networks",
                    "cidr",
                    "%s (%s) overlaps %s (%s)"
                    % (network["cidr"], network["name"], other["cidr"], other["name"]),
                )


def _check_management(site, errors):
    management = site.get("management_networks")
    if not isinstance(management, list) or not management:
        errors.add(
            "mpcpu_site",
            "management_networks",
            "give the networks the controller manages hosts from; firewalls keep them open",
        )
        return []
    parsed = []
    for index, text in enumerate(management):
        # IPv6 too: firewalls keep SSH open to IPv6 management networks (never from an
        # MPCPU-facing interface); MPCPUs and their networks stay IPv4.
        cidr = _parse_cidr(text) or _parse_cidr(text, version=6)
        if cidr is None:
            errors.add(
                "mpcpu_site.management_networks[%d]" % index,
                "cidr",
                "%r is not an IPv4 or IPv6 network in CIDR form" % (text,),
            )
        else:
            parsed.append(cidr)
    return parsed


def _check_rows(site, errors):
    row_ids = site.get("rows", list(appendix_d.ROWS_BY_ID))
    if not isinstance(row_ids, list) or not row_ids:
        errors.add("mpcpu_site", "rows", "give a non-empty list of Appendix D row ids")
        return []
    known = []
    for row_id in row_ids:
        if row_id not in appendix_d.ROWS_BY_ID:
            errors.add(
                "mpcpu_site",
                "rows",
                "unknown Appendix D row %r (known: %s)"
                % (row_id, ", ".join(appendix_d.ROWS_BY_ID)),
            )
        elif row_id not in known:
            known.append(row_id)
    overrides = site.get("port_overrides") or {}
    if not isinstance(overrides, dict):
        errors.add("mpcpu_site", "port_overrides", "must map row ids to {mpcpu_port, pc_port}")
        overrides = {}
    _check_override_rows(overrides, errors)
    return [
        _programmed_row(appendix_d.ROWS_BY_ID[row_id], overrides.get(row_id), errors)
        for row_id in appendix_d.ROWS_BY_ID
        if row_id in known
    ]


def _check_override_rows(overrides, errors):
    for row_id in sorted(overrides):
        if row_id not in appendix_d.ROWS_BY_ID:
            errors.add(
                "mpcpu_site.port_overrides",
                str(row_id),
                "unknown Appendix D row (known: %s)" % ", ".join(appendix_d.ROWS_BY_ID),
            )


def _programmed_row(table_row, override, errors):
    if override is None:
        return table_row
    where = "mpcpu_site.port_overrides.%s" % table_row.id
    if not isinstance(override, dict):
        errors.add(where, "port_overrides", "must be a mapping with mpcpu_port and/or pc_port")
        return table_row
    ports = {}
    for field in sorted(override):
        value = override[field]
        if field not in PORT_FIELDS:
            errors.add(where, str(field), "unknown key (known: %s)" % ", ".join(PORT_FIELDS))
        elif not _valid_port(value):
            errors.add(where, field, "%r is not a port number from 1 to 65535" % (value,))
        else:
            ports[field] = value
    return appendix_d.with_ports(table_row, **ports)


# --- hosts -----------------------------------------------------------------------------------


def _usable_in(address, cidr):
    if address not in cidr:
        return False
    if cidr.prefixlen >= 31:
        return True
    return address not in (cidr.network, cidr.broadcast)


def _network_of(address, networks):
    for network in networks:
        if address in network["cidr"]:
            return network
    return None


def _check_device(name, host_vars, networks, errors):
    address = _check_device_address(name, host_vars, networks, errors)
    mac = _check_mac(name, host_vars.get("mpcpu_mac"), errors)
    firmware = _check_firmware(name, host_vars.get("mpcpu_firmware"), errors)
    if address is None or mac is None:
        return None
    return {
        "name": name,
        "ip": str(address),
        "mac": mac,
        "network": _network_of(address, networks)["name"],
        "firmware": firmware,
    }


def _check_device_address(name, host_vars, networks, errors):
    text = host_vars.get("mpcpu_ip")
    if text is None:
        errors.add(name, "mpcpu_ip", "missing: every MPCPU needs its IPv4 address")
        return None
    address = _parse_ipv4(text)
    if address is None:
        errors.add(name, "mpcpu_ip", "%r is not a valid IPv4 address" % (text,))
        return None
    network = _network_of(address, networks)
    if network is None or network["kind"] != "mpcpu":
        errors.add(name, "mpcpu_ip", "%s is outside every network of kind mpcpu" % address)
        return None
    if not _usable_in(address, network["cidr"]):
        errors.add(
            name,
            "mpcpu_ip",
            "%s is the network or broadcast address of %s" % (address, network["cidr"]),
        )
        return None
    if address == network["gateway"]:
        errors.add(name, "mpcpu_ip", "%s is the gateway of network %s" % (address, network["name"]))
        return None
    return address


def _check_mac(name, text, errors):
    if text is None:
        errors.add(name, "mpcpu_mac", "missing: DHCP reservations need the MPCPU's MAC address")
        return None
    if not isinstance(text, str) or not netaddr.valid_mac(text):
        errors.add(name, "mpcpu_mac", "%r is not a valid MAC address" % (text,))
        return None
    mac = netaddr.EUI(text, dialect=netaddr.mac_unix_expanded)
    if mac.words[0] & 1:
        errors.add(name, "mpcpu_mac", "%s is a multicast address, not a device's" % mac)
        return None
    return str(mac)


def _check_firmware(name, firmware, errors):
    if firmware is None:
        return None
    if not isinstance(firmware, dict):
        errors.add(name, "mpcpu_firmware", "must be a mapping with file, version and sha256")
        return None
    for key in sorted(set(firmware) - set(FIRMWARE_KEYS)):
        errors.add(
            name, "mpcpu_firmware.%s" % key, "unknown key (known: %s)" % ", ".join(FIRMWARE_KEYS)
        )
    if not isinstance(firmware.get("file"), str) or not firmware.get("file"):
        errors.add(name, "mpcpu_firmware.file", "give the path of the firmware image")
    version = firmware.get("version")
    if version is not None and not isinstance(version, str):
        errors.add(name, "mpcpu_firmware.version", "quote the version so YAML keeps it a string")
    sha256 = firmware.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str) and SHA256_PATTERN.match(sha256)):
        errors.add(name, "mpcpu_firmware.sha256", "%r is not 64 hexadecimal digits" % (sha256,))
    return dict(firmware)


def _check_pc_host(name, host_vars, networks, errors):
    field = "mpcpu_service_ip" if "mpcpu_service_ip" in host_vars else "ansible_host"
    text = host_vars.get(field)
    address = _parse_ipv4(text) if text is not None else None
    if address is None:
        errors.add(
            name,
            field,
            "%r is not an IPv4 address; set mpcpu_service_ip to the address MPCPUs reach it at"
            % (text,),
        )
        return None
    if _network_of(address, networks) is None:
        errors.add(name, field, "%s is outside every network in mpcpu_site.networks" % address)
        return None
    return {"name": name, "ip": str(address)}


def _check_router(name, host_vars, networks, errors):
    addresses = host_vars.get("mpcpu_router_addresses")
    if not isinstance(addresses, list) or len(addresses) < 2:
        errors.add(
            name, "mpcpu_router_addresses", "a router needs its address on at least two networks"
        )
        return None
    parsed = []
    for index, text in enumerate(addresses):
        field = "mpcpu_router_addresses[%d]" % index
        address = _parse_ipv4(text)
        if address is None:
            errors.add(name, field, "%r is not a valid IPv4 address" % (text,))
        elif _network_of(address, networks) is None:
            errors.add(name, field, "%s is outside every network in mpcpu_site.networks" % address)
        else:
            parsed.append(str(address))
    return {"name": name, "addresses": parsed} if len(parsed) == len(addresses) else None


# --- cross-host checks -----------------------------------------------------------------------


def _check_conflicting_groups(groups, errors):
    for first, second in CONFLICTING_GROUPS:
        for name in sorted(set(groups.get(first, ())) & set(groups.get(second, ()))):
            errors.add(name, "groups", "is in both %s and %s, which conflict" % (first, second))


def _check_unique(entries, field, errors):
    """Each address (or MAC) belongs to one host; list every host that shares one."""
    owners = {}
    for entry_name, entry_field, value in entries:
        owners.setdefault(value, []).append((entry_name, entry_field))
    for value in sorted(owners):
        hosts = owners[value]
        if len(set(name for name, _ in hosts)) > 1:
            for name, entry_field in hosts:
                others = sorted(set(other for other, _ in hosts if other != name))
                errors.add(
                    name,
                    entry_field,
                    "%s %s is also used by %s" % (field, value, ", ".join(others)),
                )


def _check_parts_played(rows, parts, errors):
    for table_row in rows:
        if not parts.get(table_row.pc_part):
            errors.add(
                "groups",
                table_row.pc_part,
                "nobody plays the PC side of row %s (%s): add a host to the group or drop the row "
                "from mpcpu_site.rows" % (table_row.id, table_row.purpose),
            )


def _check_listening_clashes(rows, parts, errors):
    """Two parts on one host cannot both listen on the same protocol and port."""
    listeners = {}
    for table_row in rows:
        if table_row.listener != appendix_d.PC:
            continue
        for host in parts.get(table_row.pc_part, ()):
            key = (host["name"], table_row.protocol, table_row.pc_port)
            listeners.setdefault(key, []).append(table_row.id)
    for (name, protocol, port), row_ids in sorted(listeners.items()):
        if len(row_ids) > 1:
            errors.add(
                name,
                "port_overrides",
                "rows %s would all listen on %s/%d on this host"
                % (", ".join(row_ids), protocol, port),
            )


# --- flows -------------------------------------------------------------------------------


def _flow(table_row, device, pc_host):
    mpcpu_end = (device["ip"], table_row.mpcpu_port)
    pc_end = (pc_host["ip"], table_row.pc_port)
    source, destination = (
        (mpcpu_end, pc_end)
        if appendix_d.initiator(table_row) == appendix_d.MPCPU
        else (
            pc_end,
            mpcpu_end,
        )
    )
    return {
        "row": table_row.id,
        "purpose": table_row.purpose,
        "protocol": table_row.protocol,
        "application": table_row.application,
        "initiator": appendix_d.initiator(table_row),
        "mpcpu": device["name"],
        "mpcpu_ip": device["ip"],
        "mpcpu_mac": device["mac"],
        "mpcpu_port": table_row.mpcpu_port,
        "pc_host": pc_host["name"],
        "pc_ip": pc_host["ip"],
        "pc_port": table_row.pc_port,
        "src": source[0],
        "src_port": source[1],
        "dst": destination[0],
        "dst_port": destination[1],
    }


def compile_flows(rows, devices, parts):
    """Every concrete flow: each enabled row, for each MPCPU, with each host of its PC part."""
    return [
        _flow(table_row, device, pc_host)
        for table_row in rows
        for device in devices
        for pc_host in parts.get(table_row.pc_part, ())
    ]


# --- entry point -------------------------------------------------------------------------


def _host_vars(hostvars, name):
    try:
        return hostvars[name]
    except KeyError:
        return {}


def _collect_devices(groups, hostvars, networks, errors):
    names = sorted(groups.get(appendix_d.DEVICE_GROUP, ()))
    if not names:
        errors.add("groups", appendix_d.DEVICE_GROUP, "no MPCPU devices: add hosts to group mpcpu")
    devices = [_check_device(name, _host_vars(hostvars, name), networks, errors) for name in names]
    return sorted((d for d in devices if d), key=lambda device: netaddr.IPAddress(device["ip"]))


def _collect_parts(groups, hostvars, networks, errors):
    parts = {}
    for part in appendix_d.PC_PARTS:
        hosts = [
            _check_pc_host(name, _host_vars(hostvars, name), networks, errors)
            for name in sorted(groups.get(part, ()))
        ]
        parts[part] = [host for host in hosts if host]
    return parts


def _address_owners(devices, parts, routers, networks):
    entries = [(d["name"], "mpcpu_ip", d["ip"]) for d in devices]
    seen_pc_hosts = {}
    for hosts in parts.values():
        for host in hosts:
            seen_pc_hosts[host["name"]] = host["ip"]
    entries += [(name, "mpcpu_service_ip", ip) for name, ip in sorted(seen_pc_hosts.items())]
    for router in routers:
        entries += [(router["name"], "mpcpu_router_addresses", ip) for ip in router["addresses"]]
    return entries


def _public_network(network):
    return {
        "name": network["name"],
        "cidr": str(network["cidr"]),
        "gateway": str(network["gateway"]) if network["gateway"] else None,
        "kind": network["kind"],
    }


def build_site(site, groups, hostvars):
    """Validate the inventory and compile the site; raise SiteModelError listing every problem."""
    errors = _Errors()
    if not isinstance(site, dict):
        raise SiteModelError(["mpcpu_site: mpcpu_site: define it in group_vars/all (see README)"])
    for key in sorted(set(site) - set(SITE_KEYS)):
        errors.add("mpcpu_site", str(key), "unknown key (known: %s)" % ", ".join(SITE_KEYS))
    networks = _check_networks(site, errors)
    management = _check_management(site, errors)
    rows = _check_rows(site, errors)
    _check_conflicting_groups(groups, errors)
    devices = _collect_devices(groups, hostvars, networks, errors)
    parts = _collect_parts(groups, hostvars, networks, errors)
    routers = [
        router
        for router in (
            _check_router(name, _host_vars(hostvars, name), networks, errors)
            for name in sorted(groups.get(appendix_d.ROUTER_GROUP, ()))
        )
        if router
    ]
    _check_unique(_address_owners(devices, parts, routers, networks), "address", errors)
    _check_unique([(d["name"], "mpcpu_mac", d["mac"]) for d in devices], "MAC", errors)
    _check_parts_played(rows, parts, errors)
    _check_listening_clashes(rows, parts, errors)
    if errors:
        raise SiteModelError(errors)
    return {
        "name": site.get("name", "site"),
        "networks": [_public_network(network) for network in networks],
        "management_networks": [str(cidr) for cidr in management],
        "rows": appendix_d.as_dicts(rows),
        "mpcpus": devices,
        "parts": parts,
        "routers": routers,
        "flows": compile_flows(rows, devices, parts),
    }


def site_errors(site, groups, hostvars):
    """The list of problems with the inventory; empty when the site is valid."""
    try:
        build_site(site, groups, hostvars)
    except SiteModelError as error:
        return error.errors
    return []
