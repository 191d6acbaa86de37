"""A lab topology: bridges on the machine and nspawn hosts linked to them, read from YAML.

    name: fw                      # short lab name, [a-z0-9], at most 6 characters
    bridges:
      - name: cctv
        cidr: 198.51.100.64/27
        controller: 198.51.100.94 # the machine's address on it (default: last usable)
    release: bookworm             # default Debian release of the hosts (bookworm or trixie)
    hosts:
      - name: gw
        release: trixie           # optional: this host runs Debian 13 (default: the lab's)
        forwarding: true          # a router: ip_forward on inside its own namespace
        links:
          - bridge: cctv
            addresses: [198.51.100.65/27]
            mac: "02:00:00:00:00:01"   # optional
            gateway: 198.51.100.65     # optional default route

Every address must lie in 198.51.100.0/24 or 203.0.113.0/24: the machine's own uplink uses
192.0.2.0/24, and lab traffic must never leave the machine.

The environment variable MPCPU_LAB_RELEASE, when set, replaces the lab-wide default (a host's
own ``release`` still wins), so one topology boots on either release.
"""

import ipaddress
import os
import re

import yaml

ALLOWED_RANGES = (
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("203.0.113.0/24"),
)
LAB_NAME = re.compile(r"^[a-z][a-z0-9]{0,5}$")
HOST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
MAX_LINKS = 4
RELEASES = ("bookworm", "trixie")
DEFAULT_RELEASE = "bookworm"
RELEASE_VARIABLE = "MPCPU_LAB_RELEASE"


class TopologyError(ValueError):
    """The topology file is not usable; the message names the field."""


def _allowed(network):
    return any(network.subnet_of(allowed) for allowed in ALLOWED_RANGES)


def _bridge(index, raw):
    where = "bridges[%d]" % index
    try:
        cidr = ipaddress.ip_network(str(raw["cidr"]), strict=True)
    except (KeyError, ValueError) as error:
        raise TopologyError("%s.cidr: %s" % (where, error)) from None
    if not _allowed(cidr):
        raise TopologyError(
            "%s.cidr: %s is outside 198.51.100.0/24 and 203.0.113.0/24" % (where, cidr)
        )
    hosts = list(cidr.hosts())
    controller = ipaddress.ip_address(str(raw.get("controller", hosts[-1])))
    if controller not in hosts:
        raise TopologyError(
            "%s.controller: %s is not a host address of %s" % (where, controller, cidr)
        )
    return {
        "name": str(raw.get("name", "net%d" % index)),
        "cidr": str(cidr),
        "controller": str(controller),
    }


def _link(where, raw, bridges):
    bridge = bridges.get(raw.get("bridge"))
    if bridge is None:
        raise TopologyError(
            "%s.bridge: %r is not a bridge of this lab" % (where, raw.get("bridge"))
        )
    cidr = ipaddress.ip_network(bridge["cidr"])
    addresses = []
    for text in raw.get("addresses", []):
        try:
            interface = ipaddress.ip_interface(str(text))
        except ValueError as error:
            raise TopologyError("%s.addresses: %s" % (where, error)) from None
        if interface.ip not in cidr:
            raise TopologyError("%s.addresses: %s is outside bridge %s" % (where, text, cidr))
        addresses.append(str(interface))
    mac = raw.get("mac")
    if mac is not None and not MAC.match(str(mac).lower()):
        raise TopologyError("%s.mac: %r is not a MAC address" % (where, mac))
    gateway = raw.get("gateway")
    if gateway is not None and ipaddress.ip_address(str(gateway)) not in cidr:
        raise TopologyError("%s.gateway: %s is outside bridge %s" % (where, gateway, cidr))
    return {
        "bridge": bridge["name"],
        "addresses": addresses,
        "mac": str(mac).lower() if mac else None,
        "gateway": str(gateway) if gateway else None,
    }


def _release(where, value):
    if value not in RELEASES:
        raise TopologyError("%s: %r is not one of %s" % (where, value, ", ".join(RELEASES)))
    return value


def _host(index, raw, bridges, release):
    where = "hosts[%d]" % index
    name = raw.get("name")
    if not isinstance(name, str) or not HOST_NAME.match(name):
        raise TopologyError("%s.name: %r must match %s" % (where, name, HOST_NAME.pattern))
    links = raw.get("links") or []
    if not 1 <= len(links) <= MAX_LINKS:
        raise TopologyError("%s.links: give 1 to %d links" % (where, MAX_LINKS))
    parsed = [
        _link("%s.links[%d]" % (where, number), link, bridges) for number, link in enumerate(links)
    ]
    if not parsed[0]["addresses"]:
        raise TopologyError(
            "%s.links[0].addresses: the first link needs an address for SSH" % where
        )
    return {
        "name": name,
        "release": _release(where + ".release", raw.get("release", release)),
        "forwarding": bool(raw.get("forwarding", False)),
        "links": parsed,
    }


def parse(raw):
    """Validate a topology mapping and return it normalised."""
    if not isinstance(raw, dict):
        raise TopologyError("topology: a mapping with name, bridges and hosts")
    name = raw.get("name")
    if not isinstance(name, str) or not LAB_NAME.match(name):
        raise TopologyError("name: %r must match %s" % (name, LAB_NAME.pattern))
    bridges = [_bridge(index, item) for index, item in enumerate(raw.get("bridges") or [])]
    if not bridges:
        raise TopologyError("bridges: give at least one bridge")
    by_name = {bridge["name"]: bridge for bridge in bridges}
    default = os.environ.get(RELEASE_VARIABLE) or raw.get("release", DEFAULT_RELEASE)
    where = RELEASE_VARIABLE if os.environ.get(RELEASE_VARIABLE) else "release"
    release = _release(where, default)
    hosts = [
        _host(index, item, by_name, release) for index, item in enumerate(raw.get("hosts") or [])
    ]
    if not hosts:
        raise TopologyError("hosts: give at least one host")
    if len({host["name"] for host in hosts}) != len(hosts):
        raise TopologyError("hosts: host names must be unique")
    return {"name": name, "release": release, "bridges": bridges, "hosts": hosts}


def load(path):
    with open(path, encoding="utf-8") as handle:
        return parse(yaml.safe_load(handle))
