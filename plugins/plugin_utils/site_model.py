# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site model: inventory in, validated MPCPU site and concrete Appendix D flows out.

Controller side only (uses netaddr). Validation collects every problem before raising, each
message naming the host (or the ``mpcpu_site`` path) and the field, once, so an operator fixes
a broken inventory in one pass and no host is touched before it is clean. Whatever the YAML
shape, a bad inventory is reported, never a Python exception. Everything a later play, role,
renderer or module of the collection would refuse is refused here first (see README).

The model also carries one view per host (``model["hosts"][name]``, see ``host_view``): the
rows the host plays with their programmed ports, its addresses, its flows and the network of
each end, worked out once for every consumer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import stat
from collections.abc import Mapping

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import services
from ansible_collections.megapower.mpcpu.plugins.plugin_utils._netaddr import netaddr
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import (  # noqa: F401
    Problems,
    SiteModelError,
    port_problem,
    problem,
)

_text = appendix_d.value_text

NETWORK_KINDS = ("mpcpu", "pc", "management")
SITE_KEYS = ("name", "networks", "management_networks", "rows", "port_overrides")
NETWORK_KEYS = ("name", "cidr", "gateway", "kind")
FIRMWARE_KEYS = ("file", "version", "sha256")
PORT_FIELDS = ("mpcpu_port", "pc_port")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
SHA256_PATTERN = re.compile(r"^[0-9a-fA-F]{64}$")

# The collection's own host variables, and where each belongs. Any other ``mpcpu_*`` host
# variable is a misspelling the collection would silently ignore, so it is refused.
DEVICE_KEYS = ("mpcpu_ip", "mpcpu_mac", "mpcpu_firmware")
PC_KEYS = ("mpcpu_service_ip",)
ROUTER_KEYS = ("mpcpu_router_addresses",)
HOST_KEYS = ("mpcpu_site",) + DEVICE_KEYS + PC_KEYS + ROUTER_KEYS
# The playbooks' own settings (render.yml, verify.yml): given with -e, every host carries them.
PLAYBOOK_KEYS = ("mpcpu_output_dir",)
NAMESPACE = "mpcpu_"

# An MPCPU network needs room for the device and the gateway or server it talks to.
MAX_MPCPU_PREFIX = 30
# The port Ansible reaches every managed host on: no row may be programmed onto it.
SSH = ("tcp", 22)
# mpcpu_firmware's default max_size: site.yml's firmware play keeps it.
FIRMWARE_MAX_SIZE = 64 * 1024 * 1024
DHCP_ROW = "ip_assignment"
FIRMWARE_ROW = "time_firmware"
NAMES_SHOWN = 5

# A device cannot also be a PC: it would have to talk to itself across the table.
CONFLICTING_GROUPS = tuple(
    (appendix_d.DEVICE_GROUP, other) for other in appendix_d.PC_PARTS + (appendix_d.ROUTER_GROUP,)
)


def _names(names):
    names = sorted(names)
    if len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    return "%s and %d more" % (", ".join(names[:NAMES_SHOWN]), len(names) - NAMES_SHOWN)


def _parse_ipv4(text):
    if isinstance(text, str) and netaddr.valid_ipv4(text.strip(), netaddr.INET_PTON):
        return netaddr.IPAddress(text.strip(), 4)
    return None


def _parse_cidr(text, version=4):
    if not isinstance(text, str) or "/" not in text:
        return None
    address, _slash, prefix = text.strip().partition("/")
    if not prefix.isdigit() or (version == 4 and _parse_ipv4(address) is None):
        return None
    try:
        network = netaddr.IPNetwork(text.strip(), version=version)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if network.ip != network.network:
        return None
    return network


def _mapping(value):
    return value if isinstance(value, Mapping) else None


# --- site-wide settings --------------------------------------------------------------------


class _Networks(list):
    """The site's networks. ``complete`` is false when some network could not be read at all:
    an address outside the others is then not reported (it may be in the unreadable one)."""

    complete = True


def _check_networks(site, problems):
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
    if _mapping(network) is None:
        problems.add(where, "networks", "each network is a mapping with name, cidr and kind")
        return None
    for key in sorted(set(network) - set(NETWORK_KEYS), key=str):
        problems.add(where, str(key), "unknown key (known: %s)" % ", ".join(NETWORK_KEYS))
    name = network.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.add(where, "name", "%s is not a valid network name" % _text(name))
    cidr = _parse_cidr(network.get("cidr"))
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
    gateway_ip = _parse_ipv4(gateway)
    if gateway_ip is None:
        problems.add(where, "gateway", "%s is not a valid IPv4 address" % _text(gateway))
    elif cidr is not None and not _usable_in(gateway_ip, cidr):
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


def _check_management(site, problems):
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
        cidr = _parse_cidr(text) or _parse_cidr(text, version=6)
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


def _check_rows(site, problems):
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
    if _mapping(overrides) is None:
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
    if _mapping(override) is None:
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


def _check_dhcp_ports(rows, problems):
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


def _check_device_ports(rows, problems):
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


def _host_address(name, field, text, networks, problems, *, kinds=None):
    """The parsed address of ``name``'s ``field``, usable in one of the site's networks."""
    address = _parse_ipv4(text)
    if address is None:
        problems.add(name, field, "%s is not a valid IPv4 address" % _text(text))
        return None, None
    network = _network_of(address, networks)
    if (network is None and not networks.complete) or (network and network["broken"]):
        return None, None
    if network is None or (kinds and network["kind"] not in kinds):
        where = (
            "every network of kind %s" % " or ".join(kinds)
            if kinds
            else "every network in mpcpu_site.networks"
        )
        problems.add(name, field, "%s is outside %s" % (address, where))
        return None, None
    if not _usable_in(address, network["cidr"]):
        problems.add(
            name,
            field,
            "%s is the network or broadcast address of %s (%s)"
            % (address, network["cidr"], network["name"]),
        )
        return None, None
    return address, network


def _check_device(name, host_vars, networks, problems, images):
    address = _check_device_address(name, host_vars, networks, problems)
    mac = _check_mac(name, host_vars.get("mpcpu_mac"), problems)
    firmware = _check_firmware(name, host_vars, problems, images)
    if address is None or mac is None:
        return None
    return {
        "name": name,
        "ip": str(address),
        "mac": mac,
        "network": _network_of(address, networks)["name"],
        "firmware": firmware,
    }


def _check_device_address(name, host_vars, networks, problems):
    text = host_vars.get("mpcpu_ip")
    if text is None:
        problems.add(name, "mpcpu_ip", "missing: every MPCPU needs its IPv4 address")
        return None
    address, network = _host_address(name, "mpcpu_ip", text, networks, problems, kinds=("mpcpu",))
    if address is not None and address == network["gateway"]:
        problems.add(
            name, "mpcpu_ip", "%s is the gateway of network %s" % (address, network["name"])
        )
        return None
    return address


def _check_mac(name, text, problems):
    if text is None:
        problems.add(name, "mpcpu_mac", "missing: DHCP reservations need the MPCPU's MAC address")
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        problems.add(
            name,
            "mpcpu_mac",
            "YAML read %r as the number %d: quote the MAC address" % (text, text),
        )
        return None
    if not isinstance(text, str) or not netaddr.valid_mac(text.strip()):
        problems.add(name, "mpcpu_mac", "%s is not a valid MAC address" % _text(text))
        return None
    mac = netaddr.EUI(text.strip(), dialect=netaddr.mac_unix_expanded)
    if int(mac) == 0:
        problems.add(name, "mpcpu_mac", "%s is all zeros, not a device's address" % mac)
        return None
    if mac.words[0] & 1:
        problems.add(name, "mpcpu_mac", "%s is a multicast address, not a device's" % mac)
        return None
    return str(mac)


# --- firmware --------------------------------------------------------------------------------


def firmware_path(file_name, inventory_dir):
    """Where site.yml's firmware play reads the image: relative paths from the inventory.

    None for a relative path with no inventory directory (a caller outside Ansible): there is
    nothing to resolve it against, so the file is not checked.
    """
    if os.path.isabs(file_name):
        return file_name
    if not inventory_dir:
        return None
    return os.path.join(str(inventory_dir), file_name)


def _image_facts(path, cache):
    """(problem or None, sha256) of the image at ``path``, read once per path."""
    if path not in cache:
        cache[path] = _read_image(path)
    return cache[path]


def _read_image(path):
    try:
        with open(path, "rb") as image:
            info = os.fstat(image.fileno())
            if not stat.S_ISREG(info.st_mode):
                return "%s is not a regular file" % path, None
            if info.st_size == 0:
                return "%s is empty" % path, None
            if info.st_size > FIRMWARE_MAX_SIZE:
                return "%s is %d bytes, more than the %d mpcpu_firmware sends" % (
                    path,
                    info.st_size,
                    FIRMWARE_MAX_SIZE,
                ), None
            digest = hashlib.sha256()
            for chunk in iter(lambda: image.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        return "cannot read %s: %s" % (path, error.strerror or error), None
    return None, digest.hexdigest()


def _check_version(name, version, problems):
    if version is not None and not isinstance(version, str):
        problems.add(name, "mpcpu_firmware.version", "quote the version so YAML keeps it a string")
    elif version is not None and not version.strip():
        problems.add(name, "mpcpu_firmware.version", "must not be empty")


def _checked_sha256(name, sha256, problems):
    if sha256 is not None and not (isinstance(sha256, str) and SHA256_PATTERN.match(sha256)):
        problems.add(
            name, "mpcpu_firmware.sha256", "%s is not 64 hexadecimal digits" % _text(sha256)
        )
        return None
    return sha256


def _check_firmware(name, host_vars, problems, images):
    """The image each device names, read once per path (``images``) the way site.yml does."""
    firmware = host_vars.get("mpcpu_firmware")
    if firmware is None:
        return None
    if _mapping(firmware) is None:
        problems.add(name, "mpcpu_firmware", "must be a mapping with file, version and sha256")
        return None
    for key in sorted(set(firmware) - set(FIRMWARE_KEYS), key=str):
        problems.add(
            name,
            "mpcpu_firmware.%s" % key,
            "unknown key (known: %s)" % ", ".join(FIRMWARE_KEYS),
        )
    _check_version(name, firmware.get("version"), problems)
    sha256 = _checked_sha256(name, firmware.get("sha256"), problems)
    file_name = firmware.get("file")
    if not isinstance(file_name, str) or not file_name.strip():
        problems.add(name, "mpcpu_firmware.file", "give the path of the firmware image")
        return dict(firmware)
    path = firmware_path(file_name, host_vars.get("inventory_dir"))
    if path is None:
        return dict(firmware)
    _check_image(name, path, sha256, problems, images)
    return dict(firmware, path=path)


def _check_image(name, path, sha256, problems, images):
    failure, digest = _image_facts(path, images)
    if failure:
        problems.add(name, "mpcpu_firmware.file", failure)
    elif sha256 is not None and digest != sha256.lower():
        problems.add(
            name,
            "mpcpu_firmware.sha256",
            "%s has sha256 %s, not the %s given: mpcpu_firmware would refuse to send it"
            % (path, digest, sha256.lower()),
        )


# --- PC hosts and routers ----------------------------------------------------------------------


def _check_pc_host(name, host_vars, networks, problems):
    field = "mpcpu_service_ip" if "mpcpu_service_ip" in host_vars else "ansible_host"
    text = host_vars.get(field)
    if text is None or (field == "ansible_host" and _parse_ipv4(text) is None):
        problems.add(
            name,
            field,
            "%s is not an IPv4 address; set mpcpu_service_ip to the address MPCPUs reach it at"
            % _text(text),
        )
        return None
    address, _network = _host_address(name, field, text, networks, problems)
    if address is None:
        return None
    return {"name": name, "ip": str(address), "field": field}


def _check_router(name, host_vars, networks, problems):
    addresses = host_vars.get("mpcpu_router_addresses")
    if not isinstance(addresses, list) or len(addresses) < 2:
        problems.add(
            name,
            "mpcpu_router_addresses",
            "a router needs a list of its addresses, one on each of at least two networks",
        )
        return None
    parsed = []
    joined = {}
    for index, text in enumerate(addresses):
        field = "mpcpu_router_addresses[%d]" % index
        address, network = _host_address(name, field, text, networks, problems)
        if address is None:
            continue
        if str(network["cidr"]) in joined:
            problems.add(
                name,
                field,
                "%s is a second address in network %s (as %s): give one address on each "
                "network the router joins"
                % (address, network["name"], joined[str(network["cidr"])][1]),
            )
            continue
        joined[str(network["cidr"])] = (network["name"], address)
        parsed.append(str(address))
    if len(parsed) != len(addresses):
        return None
    return {
        "name": name,
        "addresses": parsed,
        "networks": sorted(network for network, _address in joined.values()),
    }


# --- cross-host checks -----------------------------------------------------------------------


def _check_conflicting_groups(groups, problems):
    for first, second in CONFLICTING_GROUPS:
        for name in sorted(set(groups.get(first, ())) & set(groups.get(second, ()))):
            problems.add(name, "groups", "is in both %s and %s, which conflict" % (first, second))


def _check_unique(entries, field, problems):
    """Each address (or MAC) belongs to one host; list every host that shares one."""
    owners = {}
    for entry_name, entry_field, value in entries:
        owners.setdefault(value, []).append((entry_name, entry_field))
    shared = [value for value, hosts in owners.items() if len(hosts) > 1]
    for value in sorted(shared):
        hosts = owners[value]
        if len(set(name for name, _field in hosts)) > 1:
            for name, entry_field in hosts:
                others = sorted(set(other for other, _field in hosts if other != name))
                problems.add(
                    name,
                    entry_field,
                    "%s %s is also used by %s" % (field, value, ", ".join(others)),
                )


def _check_parts_played(rows, parts, groups, problems):
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
                    _names(groups[table_row.pc_part]),
                    "plays" if len(groups[table_row.pc_part]) == 1 else "play",
                    table_row.id,
                    table_row.purpose,
                ),
            )


def _check_pc_ports(rows, parts, problems):
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


def _check_managed_addresses(managed, hostvars, devices, problems):
    """Ansible must never SSH to an MPCPU: no managed host may be reached at a device's address."""
    device_ips = dict((device["ip"], device["name"]) for device in devices)
    for name in sorted(managed):
        text = _host_vars(hostvars, name).get("ansible_host")
        address = _parse_ipv4(text)
        if address is not None and str(address) in device_ips:
            problems.add(
                name,
                "ansible_host",
                "%s is the address of MPCPU %s: Ansible would connect to the device"
                % (address, device_ips[str(address)]),
            )


def _check_firmware_row(rows, devices, problems):
    if FIRMWARE_ROW in [table_row.id for table_row in rows]:
        return
    for device in devices:
        if device["firmware"] is not None:
            problems.add(
                device["name"],
                "mpcpu_firmware",
                "firmware is sent over row time_firmware, which is not in mpcpu_site.rows",
            )


def _check_host_keys(names, hostvars, groups, problems):
    """Unknown ``mpcpu_*`` host variables, and the collection's ones on the wrong kind of host."""
    where = {}
    devices = set(groups.get(appendix_d.DEVICE_GROUP, ()))
    routers = set(groups.get(appendix_d.ROUTER_GROUP, ()))
    pc_hosts = set().union(*(groups.get(part, ()) for part in appendix_d.PC_PARTS))
    for name in names:
        for key in _host_vars(hostvars, name):
            if not isinstance(key, str) or not key.startswith(NAMESPACE):
                continue
            message = _key_problem(key, name in devices, name in pc_hosts, name in routers)
            if message:
                where.setdefault((key, message), []).append(name)
    for (key, message), hosts in sorted(where.items()):
        problems.add(_names(hosts), key, message)


def _key_problem(key, device, pc_host, router):
    if key in PLAYBOOK_KEYS:
        return None
    if key not in HOST_KEYS:
        return "unknown host variable of the collection (known: %s)" % ", ".join(HOST_KEYS)
    if key in DEVICE_KEYS and not device:
        return "only hosts of group mpcpu use it: the collection would ignore it here"
    if key in ROUTER_KEYS and not router:
        return "only hosts of group mpcpu_routers use it: the collection would ignore it here"
    if key in PC_KEYS and not pc_host:
        return "only hosts of the PC-part groups use it: the collection would ignore it here"
    return None


# --- flows -------------------------------------------------------------------------------


def _flow(table_row, device, pc_host):
    mpcpu_end = (device["ip"], table_row.mpcpu_port)
    pc_end = (pc_host["ip"], table_row.pc_port)
    source, destination = (
        (mpcpu_end, pc_end)
        if appendix_d.initiator(table_row) == appendix_d.MPCPU
        else (pc_end, mpcpu_end)
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
        "mpcpu_network": device["network"],
        "pc_host": pc_host["name"],
        "pc_ip": pc_host["ip"],
        "pc_port": table_row.pc_port,
        "pc_network": pc_host.get("network"),
        "src": source[0],
        "src_port": source[1],
        "dst": destination[0],
        "dst_port": destination[1],
    }


def compile_flows(rows, devices, parts):
    """Every concrete flow: each enabled row, for each MPCPU, with each host of its PC part."""
    return _compile_flows(rows, devices, parts)


def _compile_flows(rows, devices, parts):
    """Every concrete flow: each enabled row, for each MPCPU, with each host of its PC part."""
    return [
        _flow(table_row, device, pc_host)
        for table_row in rows
        for device in devices
        for pc_host in parts.get(table_row.pc_part, ())
    ]


# --- the per-host view -----------------------------------------------------------------------


def _device_view(device, rows):
    return {
        "name": device["name"],
        "kind": appendix_d.DEVICE_GROUP,
        "router": False,
        "addresses": [device["ip"]],
        "networks": {device["ip"]: device["network"]},
        "parts": [],
        "rows": rows,
        "flows": [],
        "crossing": [],
    }


def _pc_side_view(model, host, cidrs):
    part_names = [
        part for part, hosts in model["parts"].items() if any(h["name"] == host for h in hosts)
    ]
    router = next((r for r in model["routers"] if r["name"] == host), None)
    addresses = []
    for part in part_names:
        addresses += [h["ip"] for h in model["parts"][part] if h["name"] == host]
    if router is not None:
        addresses += router["addresses"]
    addresses = sorted(set(addresses), key=netaddr.IPAddress)
    return {
        "name": host,
        "kind": appendix_d.PC if part_names else "router",
        "router": router is not None,
        "addresses": addresses,
        "networks": dict(
            (ip, next(name for name, cidr in cidrs if netaddr.IPAddress(ip) in cidr))
            for ip in addresses
        ),
        "parts": part_names,
        "rows": [
            dict(row, side=appendix_d.PC) for row in model["rows"] if row["pc_part"] in part_names
        ],
        "flows": [],
        "crossing": [],
    }


def _host_views(model):
    """Every host's view, in one pass over the flows."""
    cidrs = [(n["name"], netaddr.IPNetwork(n["cidr"])) for n in model["networks"]]
    pc_side = set(r["name"] for r in model["routers"])
    for hosts in model["parts"].values():
        pc_side.update(host["name"] for host in hosts)
    views = dict((name, _pc_side_view(model, name, cidrs)) for name in sorted(pc_side))
    # Every MPCPU plays every row in use: one list of rows shared by all their views.
    device_rows = [dict(row, side=appendix_d.MPCPU) for row in model["rows"]]
    for device in model["mpcpus"]:
        views[device["name"]] = _device_view(device, device_rows)
    joined = [(r["name"], set(r["networks"])) for r in model["routers"]]
    for flow in model["flows"]:
        views[flow["mpcpu"]]["flows"].append(flow)
        views[flow["pc_host"]]["flows"].append(flow)
        ends = (flow["mpcpu_network"], flow["pc_network"])
        if ends[0] == ends[1]:
            continue
        for router, networks in joined:
            if router != flow["pc_host"] and ends[0] in networks and ends[1] in networks:
                views[router]["crossing"].append(flow)
    return views


def host_view(model, host):
    """What ``host`` plays, worked out once when the model was built.

    A dict: ``name``; ``kind`` (mpcpu, pc or router); ``router`` (whether it is in
    mpcpu_routers); ``addresses`` and ``networks`` (address to network name); ``parts`` (the
    PC-part groups it plays); ``rows`` (the rows it plays with their programmed ports and the
    ``side`` it plays); ``flows`` (its flows, each with ``mpcpu_network`` and ``pc_network``);
    ``crossing`` (for a router, the flows between two networks it joins whose PC end is
    another host). KeyError names a host the site does not have.
    """
    try:
        return model["hosts"][host]
    except KeyError:
        raise KeyError("%r is not a host of the MPCPU site" % (host,)) from None


# --- entry point -------------------------------------------------------------------------


def _host_vars(hostvars, name):
    try:
        host_vars = hostvars[name]
    except (KeyError, TypeError, IndexError):
        return {}
    return host_vars if isinstance(host_vars, Mapping) else {}


def _has_template(value):
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_template(item) for item in value)
    return False


class _RawHostVars(Mapping):
    """One host's variables as the inventory gives them, templated only where they hold Jinja.

    Ansible's ``hostvars[host]`` builds a template engine for the host and templates every
    value read; on 10,000 hosts that is seconds spent on plain addresses.
    """

    def __init__(self, raw, hostvars, name):
        self._raw = raw
        self._hostvars = hostvars
        self._name = name

    def __getitem__(self, key):
        value = self._raw[key]
        if _has_template(value):
            return self._hostvars[self._name][key]
        return value

    def __iter__(self):
        return iter(self._raw)

    def __len__(self):
        return len(self._raw)


class _HostVarsOnce(object):
    """Each host's variables looked up once: Ansible's hostvars works them out at every lookup."""

    def __init__(self, hostvars):
        self._hostvars = hostvars
        self._raw_get = getattr(hostvars, "raw_get", None)
        self._seen = {}

    def __getitem__(self, name):
        if name not in self._seen:
            self._seen[name] = self._lookup(name)
        return self._seen[name]

    def _lookup(self, name):
        if self._raw_get is not None:
            raw = self._raw_get(name)
            return _RawHostVars(raw, self._hostvars, name) if isinstance(raw, Mapping) else {}
        return _host_vars(self._hostvars, name)


def _clean_groups(groups):
    clean = {}
    for group, names in (groups or {}).items() if _mapping(groups) is not None else ():
        if isinstance(names, (list, tuple, set)):
            clean[group] = [name for name in names if isinstance(name, str)]
    return clean


def _collect_devices(groups, hostvars, networks, problems):
    names = sorted(groups.get(appendix_d.DEVICE_GROUP, ()))
    if not names:
        problems.add(
            "groups", appendix_d.DEVICE_GROUP, "no MPCPU devices: add hosts to group mpcpu"
        )
    images = {}
    devices = [
        _check_device(name, _host_vars(hostvars, name), networks, problems, images)
        for name in names
    ]
    return sorted((d for d in devices if d), key=lambda device: netaddr.IPAddress(device["ip"]))


def _collect_parts(groups, hostvars, networks, problems):
    """Each PC host checked once, however many parts it plays."""
    checked = {}
    parts = {}
    for part in appendix_d.PC_PARTS:
        for name in sorted(groups.get(part, ())):
            if name not in checked:
                checked[name] = _check_pc_host(name, _host_vars(hostvars, name), networks, problems)
        parts[part] = [checked[name] for name in sorted(groups.get(part, ())) if checked[name]]
    for host in checked.values():
        if host:
            host["network"] = _network_of(netaddr.IPAddress(host["ip"]), networks)["name"]
    return parts, checked


def _collect_routers(groups, hostvars, networks, problems):
    routers = [
        _check_router(name, _host_vars(hostvars, name), networks, problems)
        for name in sorted(groups.get(appendix_d.ROUTER_GROUP, ()))
    ]
    return [router for router in routers if router]


def _address_owners(devices, pc_hosts, routers):
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


def _public_network(network):
    return {
        "name": network["name"],
        "cidr": str(network["cidr"]),
        "gateway": str(network["gateway"]) if network["gateway"] else None,
        "kind": network["kind"],
    }


def _public_part_host(host):
    return {"name": host["name"], "ip": host["ip"]}


def _inventory_hosts(groups):
    names = set()
    for members in groups.values():
        names.update(members)
    return sorted(names)


def _validate(site, groups, hostvars, problems):
    for key in sorted(set(site) - set(SITE_KEYS), key=str):
        problems.add("mpcpu_site", str(key), "unknown key (known: %s)" % ", ".join(SITE_KEYS))
    networks = _check_networks(site, problems)
    management = _check_management(site, problems)
    rows = _check_rows(site, problems)
    _check_dhcp_ports(rows, problems)
    _check_device_ports(rows, problems)
    _check_conflicting_groups(groups, problems)
    _check_host_keys(_inventory_hosts(groups), hostvars, groups, problems)
    devices = _collect_devices(groups, hostvars, networks, problems)
    parts, pc_hosts = _collect_parts(groups, hostvars, networks, problems)
    routers = _collect_routers(groups, hostvars, networks, problems)
    managed = set(pc_hosts) | set(groups.get(appendix_d.ROUTER_GROUP, ()))
    _check_managed_addresses(managed, hostvars, devices, problems)
    _check_unique(_address_owners(devices, pc_hosts, routers), "address", problems)
    _check_unique([(d["name"], "mpcpu_mac", d["mac"]) for d in devices], "MAC", problems)
    _check_parts_played(rows, parts, groups, problems)
    _check_pc_ports(rows, parts, problems)
    _check_firmware_row(rows, devices, problems)
    return networks, management, rows, devices, parts, routers


# Options of the server roles that an inventory may set per host, with the roles' defaults:
# the roles re-check them before they change anything, but only after the plays before them
# have changed hosts, so the model checks what the inventory sets first.
NTP_OPTIONS = (("ntp_upstream_servers", []), ("ntp_local_stratum", 10))
SMTP_OPTIONS = (("smtp_relayhost", ""), ("smtp_message_size_limit", 10240000))


def _options(host_vars, options):
    return [host_vars.get(name, default) for name, default in options]


# The roles whose options an inventory may set per host, and the hosts each runs on
# (None: every host the firewall role runs on, the part hosts and the routers).
ROLE_PARTS = (
    ("ntp", "mpcpu_ntp_servers"),
    ("smtp", "mpcpu_smtp_relays"),
    ("firewall", None),
    ("dhcp", "mpcpu_dhcp_servers"),
    ("log_collector", "mpcpu_log_collectors"),
    ("tftp_receiver", "mpcpu_snapshot_receivers"),
)
ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")
SPEC_KEYS = ("type", "elements", "choices")
_ROLE_SPECS = {}


def _role_spec(role):
    """The options of ``role``'s meta/argument_specs.yml, as Ansible checks them at its start."""
    if role not in _ROLE_SPECS:
        path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
        with open(path, encoding="utf-8") as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        # ntp_* and smtp_* options services.py checks itself are left to it: one problem each
        services_checks = set(name for name, _default in NTP_OPTIONS + SMTP_OPTIONS)
        _ROLE_SPECS[role] = dict(
            (name, option)
            for name, option in options.items()
            if option.get("type") != "dict" and name not in services_checks
        )
    return _ROLE_SPECS[role]


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _at_least(minimum, message):
    def check(value, _settings):
        if not (_number(value) and value >= minimum):
            return message % _text(value)
        return None

    return check


def _above_zero(message):
    def check(value, _settings):
        if not (_number(value) and value > 0):
            return message % _text(value)
        return None

    return check


def _one_port(value, _settings):
    return port_problem(value)


def _lease_lifetime(value, _settings):
    return services.lease_lifetime_problem(value)


def management_ports_problem(ports):
    """Why ``ports`` are not the TCP ports a firewall keeps open for management (None when
    they are): the firewall role's option here, the firewall filters' option in the policy."""
    if not isinstance(ports, (list, tuple)) or not ports:
        return "give at least one TCP port (SSH: 22)"
    return "; ".join(problem for problem in map(port_problem, ports) if problem) or None


def _management_ports(ports, _settings):
    return management_ports_problem(ports)


def _backoff_max(value, settings):
    initial = settings.get("log_collector_backoff_initial")
    if _number(value) and _number(initial) and value < initial:
        return "%s must not be below log_collector_backoff_initial (%s)" % (
            _text(value),
            _text(initial),
        )
    return None


def _absolute_path(value, _settings):
    if not re.match(r"^/[^\s]*$", value or ""):
        return "%s must be an absolute path without whitespace" % _text(value)
    return None


def _umask_drops_writes(value, _settings):
    # u+w, g+w, o+r and o+w: tftpd-hpa must never reopen an upload to overwrite it
    if re.match(r"^0?[0-7]{3}$", value or "") and int(value, 8) & 0o226 == 0o226:
        return None
    return (
        '%s must be quoted octal like "0227" that drops every write bit (so tftpd-hpa can never '
        "reopen an upload to overwrite it) and o+r" % _text(value)
    )


def _between(low, high, message):
    def check(value, _settings):
        if not (_number(value) and low <= value <= high):
            return message % _text(value)
        return None

    return check


def _remap_pattern(value, _settings):
    if re.search(r"[\s#]", value or ""):
        return "whitespace and # cannot be written in a tftpd-hpa remap rule"
    return None


def _shell_safe_path(value, _settings):
    if not re.match(r'^/[^\s"$`\\]*$', value or ""):
        return "%s must be an absolute path without whitespace or shell characters" % _text(value)
    return None


# What each role refuses beyond its argument spec (its assert and problem-list tasks, and what
# the file it renders is checked with), on the values the spec has converted.
ROLE_LIMITS = {
    "firewall_confirm_timeout": _at_least(10, "%s s is too short; give at least 10"),
    "firewall_confirm_port": _one_port,
    "firewall_management_ports": _management_ports,
    "dhcp_valid_lifetime": _lease_lifetime,
    "dhcp_lease_cleanup_interval": _at_least(
        0, "%s is not a number of seconds (0 turns cleanup off)"
    ),
    "log_collector_retention_months": _at_least(
        1, "%s must be 1 or more (months of log files kept)"
    ),
    "log_collector_backoff_initial": _above_zero("%s must be above 0 seconds"),
    "log_collector_backoff_max": _backoff_max,
    "log_collector_connect_timeout": _above_zero("%s must be above 0 seconds"),
    "log_collector_keepalive_idle": _at_least(1, "%s must be 1 second or more"),
    "log_collector_log_dir": _absolute_path,
    "tftp_receiver_retention_days": _at_least(1, "%s must be 1 or more (days a snapshot is kept)"),
    "tftp_receiver_retention_max_bytes": _at_least(
        1, "%s must be 1 or more (bytes all snapshots may take)"
    ),
    "tftp_receiver_umask": _umask_drops_writes,
    "tftp_receiver_retransmit_ms": _between(10, 255000, "%s must be 10 to 255000 (milliseconds)"),
    "tftp_receiver_filename_pattern": _remap_pattern,
    "tftp_receiver_directory": _shell_safe_path,
}


def _role_hosts(model, part):
    if part is not None:
        return [host["name"] for host in model["parts"].get(part, ())]
    names = set(host["name"] for hosts in model["parts"].values() for host in hosts)
    return sorted(names | set(router["name"] for router in model["routers"]))


# What a value of each spec type must already be: the spec would convert "30" or "no", but
# Ansible's role argument check converts nothing and most roles read the value as given, so a
# string where a number or a boolean belongs breaks a later task or is read wrongly.
STRICT_TYPES = {
    "bool": ((bool,), "is not a boolean (true or false)"),
    "int": ((int,), "is not an integer"),
    "float": ((int, float), "is not a number"),
    "list": ((list, tuple), "is not a list"),
}


# Numbers the roles read through Jinja's int or float wherever they use them: a quoted number
# ("30", as -e key=value gives it) works there, so the spec's conversion decides.
CAST_BY_ROLE = frozenset(
    (
        "firewall_confirm_timeout",
        "firewall_confirm_port",
        "log_collector_retention_months",
        "log_collector_backoff_initial",
        "log_collector_backoff_max",
        "log_collector_connect_timeout",
        "log_collector_keepalive_idle",
    )
)


def _of_type(value, kinds):
    if value is None or not isinstance(value, kinds):
        return False
    return bool in kinds or not isinstance(value, bool)  # true is an int to Python, not here


def _converted(name, option, value, problems, host):
    """(True, ``value`` as the role's argument spec takes it), or (False, None) after adding
    the refusal."""
    if value is None and "default" in option and option["default"] is None:
        return True, None  # null is the role's own default (for example: decide on the host)
    kinds, refusal = STRICT_TYPES.get(option.get("type"), ((object,), ""))
    if not (_of_type(value, kinds) or (name in CAST_BY_ROLE and isinstance(value, str))):
        problems.add(host, name, "%s %s" % (_text(value), refusal or "is not set"))
        return False, None
    spec = dict((key, option[key]) for key in SPEC_KEYS if key in option)
    result = ArgumentSpecValidator({name: spec}).validate({name: value})
    for message in result.error_messages:
        problems.add(host, name, message)
    return not result.error_messages, result.validated_parameters.get(name)


def _check_one_role(role, host, host_vars, problems):
    spec = _role_spec(role)
    settings = dict(
        (name, option["default"])
        for name, option in spec.items()
        if not _has_template(option.get("default"))
    )
    checked = []
    for name in sorted(spec):
        if name in host_vars:
            valid, settings[name] = _converted(name, spec[name], host_vars[name], problems, host)
            if valid:
                checked.append(name)
            if spec[name].get("type") == "path":
                # The spec's check expands $VAR and ~, but the role writes the path as given.
                settings[name] = host_vars[name]
    for name in checked:
        limit = ROLE_LIMITS.get(name)
        message = limit(settings[name], settings) if limit else None
        if message:
            problems.add(host, name, message)


def role_option_problems(role, host, options):
    """What ``role`` would refuse in ``options`` (option name to value) on ``host``.

    The argument spec and limits the site model applies to the options an inventory sets, for
    options a play hands the role as parameters, which the model never sees: the same
    ``host: option: message`` problems. Options left out take the role's defaults.
    """
    if role not in dict(ROLE_PARTS):
        raise ValueError(
            "%r is not a role with checked options (known: %s)"
            % (role, ", ".join(sorted(dict(ROLE_PARTS))))
        )
    if _mapping(options) is None:
        raise ValueError(
            "the options of role %s must be a mapping, not %s" % (role, _text(options))
        )
    problems = Problems()
    _check_one_role(role, host, options, problems)
    return list(problems)


def _check_role_specs(model, hostvars, problems):
    """Each role's argument spec and limits, on the options the inventory sets for its hosts."""
    for role, part in ROLE_PARTS:
        for host in _role_hosts(model, part):
            host_vars = hostvars[host]
            if any(name in host_vars for name in _role_spec(role)):
                _check_one_role(role, host, host_vars, problems)


def _check_role_options(model, hostvars, problems):
    """The NTP and SMTP roles' own checks, on the options the inventory sets."""
    for part, options, check in (
        ("mpcpu_ntp_servers", NTP_OPTIONS, services.ntp_option_errors),
        ("mpcpu_smtp_relays", SMTP_OPTIONS, services.smtp_option_errors),
    ):
        for host in model["parts"].get(part, ()):
            host_vars = hostvars[host["name"]]
            if not any(name in host_vars for name, _default in options):
                continue
            problems.extend_texts(check(host["name"], *_options(host_vars, options)))


def build_site(site, groups, hostvars, compile_flows=True):
    """Validate the inventory and compile the site; raise SiteModelError listing every problem.

    With ``compile_flows=False`` the model stops before its flows and host views (what a
    check and the port matrix need; the flows of a large site are most of the work).
    """
    if _mapping(site) is None:
        raise SiteModelError(
            [
                problem(
                    "mpcpu_site",
                    "mpcpu_site",
                    "define it as a mapping in group_vars/all (see README)",
                )
            ]
        )
    problems = Problems()
    hostvars = _HostVarsOnce(hostvars)
    found = _validate(site, _clean_groups(groups), hostvars, problems)
    if problems:
        raise SiteModelError(problems)
    networks, management, rows, devices, parts, routers = found
    model = {
        "name": site.get("name", "site"),
        "networks": [_public_network(network) for network in networks],
        "management_networks": [str(cidr) for cidr in management],
        "rows": appendix_d.as_dicts(rows),
        "mpcpus": devices,
        "parts": dict(
            (part, [_public_part_host(h) for h in hosts]) for part, hosts in parts.items()
        ),
        "routers": routers,
    }
    _check_role_options(model, hostvars, problems)
    _check_role_specs(model, hostvars, problems)
    if problems:
        raise SiteModelError(problems)
    if compile_flows:
        model["flows"] = _compile_flows(rows, devices, parts)
        model["hosts"] = _host_views(model)
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


def port_matrix(model):
    """The effective port matrix, one line per row in use (flows: MPCPUs times PC hosts)."""
    lines = []
    for row in model["rows"]:
        lines.append(
            "%s: %s MPCPU %s / PC %s, %s starts, %d flow(s)"
            % (
                row["purpose"],
                row["protocol"].upper(),
                row["mpcpu_port"] or "any",
                row["pc_port"] or "any",
                row["initiator"],
                len(model["mpcpus"]) * len(model["parts"].get(row["pc_part"], ())),
            )
        )
    return lines
