# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parsing helpers every part of the validation shares: addresses, networks, names."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections.abc import Mapping

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils._netaddr import netaddr

_text = appendix_d.value_text


NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

NAMES_SHOWN = 5


def names_text(names):
    names = sorted(names)
    if len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    return "%s and %d more" % (", ".join(names[:NAMES_SHOWN]), len(names) - NAMES_SHOWN)


def parse_ipv4(text):
    if isinstance(text, str) and netaddr.valid_ipv4(text.strip(), netaddr.INET_PTON):
        return netaddr.IPAddress(text.strip(), 4)
    return None


def parse_cidr(text, version=4):
    if not isinstance(text, str) or "/" not in text:
        return None
    address, _slash, prefix = text.strip().partition("/")
    if not prefix.isdigit() or (version == 4 and parse_ipv4(address) is None):
        return None
    try:
        network = netaddr.IPNetwork(text.strip(), version=version)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if network.ip != network.network:
        return None
    return network


def as_mapping(value):
    return value if isinstance(value, Mapping) else None


def usable_in(address, cidr):
    if address not in cidr:
        return False
    if cidr.prefixlen >= 31:
        return True
    return address not in (cidr.network, cidr.broadcast)


def network_of(address, networks):
    for network in networks:
        if address in network["cidr"]:
            return network
    return None


def host_address(name, field, text, networks, problems, *, kinds=None):
    """The parsed address of ``name``'s ``field``, usable in one of the site's networks."""
    address = parse_ipv4(text)
    if address is None:
        problems.add(name, field, "%s is not a valid IPv4 address" % _text(text))
        return None, None
    network = network_of(address, networks)
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
    if not usable_in(address, network["cidr"]):
        problems.add(
            name,
            field,
            "%s is the network or broadcast address of %s (%s)"
            % (address, network["cidr"], network["name"]),
        )
        return None, None
    return address, network
