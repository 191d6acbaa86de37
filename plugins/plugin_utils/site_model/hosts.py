# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host at a time: each MPCPU (address, MAC, firmware entry), each PC-side host, each
router, and the collection's host variables on the hosts that carry them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d, mpcpu_firmware
from ansible_collections.megapower.mpcpu.plugins.plugin_utils._netaddr import netaddr
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import settings
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.fields import (
    as_mapping,
    host_address,
    names_text,
    network_of,
    parse_ipv4,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    host_vars_of,
)

_text = appendix_d.value_text


FIRMWARE_KEYS = ("file", "version", "sha256")

# The collection's own host variables, and where each belongs. Any other ``mpcpu_*`` host
# variable is a misspelling the collection would silently ignore, so it is refused.
DEVICE_KEYS = (
    "mpcpu_ip",
    "mpcpu_mac",
    "mpcpu_firmware",
    "mpcpu_mate",
    "mpcpu_device_protocol",
    "mpcpu_dhcp_hostname",
)

PC_KEYS = ("mpcpu_service_ip",)

ROUTER_KEYS = ("mpcpu_router_addresses", "mpcpu_router_platform")

HOST_KEYS = ("mpcpu_site",) + DEVICE_KEYS + PC_KEYS + ROUTER_KEYS

# The playbooks' own settings (render.yml, verify.yml): given with -e, every host carries them.
PLAYBOOK_KEYS = ("mpcpu_output_dir",)

NAMESPACE = "mpcpu_"


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
        "network": network_of(address, networks)["name"],
        "firmware": firmware,
    }


def _check_device_address(name, host_vars, networks, problems):
    text = host_vars.get("mpcpu_ip")
    if text is None:
        problems.add(name, "mpcpu_ip", "missing: every MPCPU needs its IPv4 address")
        return None
    address, network = host_address(
        name, "mpcpu_ip", text, networks, problems, kinds=settings.MPCPU_KINDS
    )
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


def firmware_path(file_name, inventory_dir):
    """Where the devices role reads the image: relative paths from the inventory.

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
        try:
            cache[path] = None, mpcpu_firmware.image_sha256(path)
        except mpcpu_firmware.ImageProblem as failure:
            cache[path] = str(failure), None
    return cache[path]


def _check_version(name, version, problems):
    if version is not None and not isinstance(version, str):
        problems.add(name, "mpcpu_firmware.version", "quote the version so YAML keeps it a string")
    elif version is not None and not version.strip():
        problems.add(name, "mpcpu_firmware.version", "must not be empty")


def _checked_sha256(name, sha256, problems):
    if sha256 is not None and not (
        isinstance(sha256, str) and mpcpu_firmware.SHA256_PATTERN.match(sha256)
    ):
        problems.add(
            name, "mpcpu_firmware.sha256", "%s is not 64 hexadecimal digits" % _text(sha256)
        )
        return None
    return sha256


def _check_firmware(name, host_vars, problems, images):
    """The image each device names, read once per path (``images``) as the devices role reads it."""
    firmware = host_vars.get("mpcpu_firmware")
    if firmware is None:
        return None
    if as_mapping(firmware) is None:
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


def _check_pc_host(name, host_vars, networks, problems):
    field = "mpcpu_service_ip" if "mpcpu_service_ip" in host_vars else "ansible_host"
    text = host_vars.get(field)
    if text is None or (field == "ansible_host" and parse_ipv4(text) is None):
        problems.add(
            name,
            field,
            "%s is not an IPv4 address; set mpcpu_service_ip to the address MPCPUs reach it at"
            % _text(text),
        )
        return None
    address, _network = host_address(name, field, text, networks, problems)
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
        address, network = host_address(name, field, text, networks, problems)
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


def collect_devices(groups, hostvars, networks, problems):
    names = sorted(groups.get(appendix_d.DEVICE_GROUP, ()))
    if not names:
        problems.add(
            "groups", appendix_d.DEVICE_GROUP, "no MPCPU devices: add hosts to group mpcpu"
        )
    images = {}
    devices = [
        _check_device(name, host_vars_of(hostvars, name), networks, problems, images)
        for name in names
    ]
    return sorted((d for d in devices if d), key=lambda device: netaddr.IPAddress(device["ip"]))


def collect_parts(groups, hostvars, networks, problems):
    """Each PC host checked once, however many parts it plays."""
    checked = {}
    parts = {}
    for part in appendix_d.PC_PARTS:
        for name in sorted(groups.get(part, ())):
            if name not in checked:
                checked[name] = _check_pc_host(
                    name, host_vars_of(hostvars, name), networks, problems
                )
        parts[part] = [checked[name] for name in sorted(groups.get(part, ())) if checked[name]]
    for host in checked.values():
        if host:
            host["network"] = network_of(netaddr.IPAddress(host["ip"]), networks)["name"]
    return parts, checked


def collect_routers(groups, hostvars, networks, problems):
    routers = [
        _check_router(name, host_vars_of(hostvars, name), networks, problems)
        for name in sorted(groups.get(appendix_d.ROUTER_GROUP, ()))
    ]
    return [router for router in routers if router]


def check_host_keys(names, hostvars, groups, problems):
    """Unknown ``mpcpu_*`` host variables, and the collection's ones on the wrong kind of host."""
    where = {}
    devices = set(groups.get(appendix_d.DEVICE_GROUP, ()))
    routers = set(groups.get(appendix_d.ROUTER_GROUP, ()))
    pc_hosts = set().union(*(groups.get(part, ()) for part in appendix_d.PC_PARTS))
    for name in names:
        for key in host_vars_of(hostvars, name):
            if not isinstance(key, str) or not key.startswith(NAMESPACE):
                continue
            message = _key_problem(key, name in devices, name in pc_hosts, name in routers)
            if message:
                where.setdefault((key, message), []).append(name)
    for (key, message), hosts in sorted(where.items()):
        problems.add(names_text(hosts), key, message)


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
