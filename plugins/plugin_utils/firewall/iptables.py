# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iptables-restore: this role's own chains, replaced in one ``iptables-restore --noflush``.

Only chains named ``mpcpu-*`` are declared, so ``--noflush`` empties and refills them and leaves
every other chain alone; the jumps into them from the built-in chains are added once by the role
(see roles/firewall/templates/mpcpu-firewall.sh.j2). The TFTP helper is attached in the raw
table with ``-j CT --helper tftp``, before conntrack sees the first packet.

Without ipset (not on the hosts) a named set becomes one rule per CIDR block of its addresses,
merged: contiguous MPCPU addresses cost one rule, scattered ones one rule each; the DHCP
broadcast rule costs one rule per MPCPU MAC.

IPv6 is a second file for ``ip6tables-restore --noflush`` (``render6``), with chains of the same
names in ip6tables: on an MPCPU-facing interface only neighbour discovery passes, in and out,
and nothing is forwarded; SSH stays open to IPv6 management networks on other interfaces.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import itertools

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import policy as _policy

RAW_PREROUTING = "mpcpu-prerouting"
RAW_OUTPUT = "mpcpu-output"
INPUT = "mpcpu-input"
OUTPUT = "mpcpu-output"
FORWARD = "mpcpu-forward"
FROM_MPCPU_NETWORKS = "mpcpu-from-net"
TO_MPCPU_NETWORKS = "mpcpu-to-net"
MPCPU_FORWARD = "mpcpu-fwd-net"
MANAGEMENT = "mpcpu-management"
# (table, built-in chain, our chain): the jumps the role adds in front of everything else.
HOOKS = (
    ("raw", "PREROUTING", RAW_PREROUTING),
    ("raw", "OUTPUT", RAW_OUTPUT),
    ("filter", "INPUT", INPUT),
    ("filter", "OUTPUT", OUTPUT),
    ("filter", "FORWARD", FORWARD),
)


def _blocks(policy, name):
    """The CIDR blocks of a set, merged; [None] for "any"."""
    if name is None:
        return [None]
    address_set = policy["sets"][name]
    networks = [ipaddress.ip_network(element) for element in address_set.elements]
    return [str(block) for block in ipaddress.collapse_addresses(networks)]


def _comment(text):
    return '-m comment --comment "%s"' % text.replace('"', "'")


def _ports(rule):
    words = ["-p %s" % rule.protocol]
    if rule.src_port is not None or rule.dst_port is not None:
        words.append("-m %s" % rule.protocol)
    if rule.src_port is not None:
        words.append("--sport %d" % rule.src_port)
    if rule.dst_port is not None:
        words.append("--dport %d" % rule.dst_port)
    return words


def _expand(policy, chain, rule, target):
    lines = []
    sources = _blocks(policy, rule.src)
    destinations = _blocks(policy, rule.dst)
    for source, destination in itertools.product(sources, destinations):
        words = ["-A %s" % chain]
        if source:
            words.append("-s %s" % source)
        if destination:
            words.append("-d %s" % destination)
        words += _ports(rule) + [_comment(rule.comment), target]
        lines.append(" ".join(words))
    return lines


def _dhcp_discover(policy, chain, rule):
    lines = []
    for mac in policy["sets"][_policy.MPCPU_MACS].elements:
        words = ["-A %s -s 0.0.0.0/32 -d 255.255.255.255/32" % chain]
        words += _ports(rule) + ["-m mac --mac-source %s" % mac, _comment(rule.comment)]
        lines.append(" ".join(words + ["-j ACCEPT"]))
    return lines


def _raw_table(policy):
    lines = ["*raw", ":%s - [0:0]" % RAW_PREROUTING, ":%s - [0:0]" % RAW_OUTPUT]
    target = "-j CT --helper tftp"
    for rule in policy["rules"]:
        if rule.helper:
            chain = RAW_OUTPUT if rule.chain == _policy.OUTPUT else RAW_PREROUTING
            lines += _expand(policy, chain, rule, target)
    return lines + ["COMMIT"]


def _each(policy, chain, option, set_name, target):
    return [
        "-A %s %s %s -j %s" % (chain, option, block, target) for block in _blocks(policy, set_name)
    ]


def _management(policy):
    """SSH from the management networks, never from an MPCPU that happens to lie in one."""
    ports = ",".join(str(port) for port in policy["management_ports"])
    lines = ["-A %s -p tcp -m multiport --dports %s -j %s" % (INPUT, ports, MANAGEMENT)]
    lines += _each(policy, MANAGEMENT, "-s", _policy.ALL_MPCPUS, "RETURN")
    lines += [
        "-A %s -s %s %s -j ACCEPT" % (MANAGEMENT, block, _comment("management access"))
        for block in _blocks(policy, _policy.MANAGEMENT)
    ]
    return lines


def _input_chain(policy):
    drop_mode = policy["input_policy"] == "drop"
    lines = ["-A %s -i lo -j %s" % (INPUT, "ACCEPT" if drop_mode else "RETURN")]
    if drop_mode:
        lines.append("-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % INPUT)
    lines += _management(policy)
    for rule in _policy.rules_in(policy, _policy.INPUT, kinds=(_policy.DHCP_DISCOVER,)):
        lines += _dhcp_discover(policy, INPUT, rule)
    for rule in _policy.relay_legs(policy, _policy.INPUT):
        lines += _expand(policy, INPUT, rule, "-j ACCEPT")
    lines += _each(policy, INPUT, "-s", _policy.MPCPU_NETWORKS, FROM_MPCPU_NETWORKS)
    if drop_mode:
        lines += [
            "-A %s -s %s -p icmp --icmp-type echo-request -j ACCEPT" % (INPUT, block)
            for block in _blocks(policy, _policy.MANAGEMENT)
        ]
        lines.append("-A %s -j DROP" % INPUT)
    return lines


def _mpcpu_chain(policy, chain, policy_chain):
    lines = [
        "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % chain,
        "-A %s -m conntrack --ctstate INVALID -j DROP" % chain,
    ]
    for rule in _policy.rules_in(policy, policy_chain):
        lines += _expand(policy, chain, rule, "-j ACCEPT")
    return lines + ["-A %s %s -j DROP" % (chain, _comment("MPCPU traffic the table does not name"))]


def _filter_table(policy):
    chains = [INPUT, MANAGEMENT, FROM_MPCPU_NETWORKS, OUTPUT, TO_MPCPU_NETWORKS]
    chains += [FORWARD, MPCPU_FORWARD]
    lines = ["*filter"] + [":%s - [0:0]" % chain for chain in chains]
    lines += _input_chain(policy)
    lines += _mpcpu_chain(policy, FROM_MPCPU_NETWORKS, _policy.INPUT)
    lines.append("-A %s -o lo -j RETURN" % OUTPUT)
    lines += _each(policy, OUTPUT, "-d", _policy.MPCPU_NETWORKS, TO_MPCPU_NETWORKS)
    lines += _mpcpu_chain(policy, TO_MPCPU_NETWORKS, _policy.OUTPUT)
    if policy["router"]:
        lines += _each(policy, FORWARD, "-s", _policy.MPCPU_NETWORKS, MPCPU_FORWARD)
        lines += _each(policy, FORWARD, "-d", _policy.MPCPU_NETWORKS, MPCPU_FORWARD)
        lines += _mpcpu_chain(policy, MPCPU_FORWARD, _policy.FORWARD)
    return lines + ["COMMIT"]


def _header(policy, command, what):
    return [
        "# MPCPU firewall of %s (site %s): %s." % (policy["host"], policy["site"], what),
        "# Generated by megapower.mpcpu from the site model: change the inventory, not this file.",
        "# Load with %s --noflush: only the mpcpu-* chains are replaced." % command,
    ]


def render(policy):
    """The whole file for ``iptables-restore --noflush``."""
    header = _header(policy, "iptables-restore", "the Appendix D flows this host takes part in")
    return "\n".join(header + _raw_table(policy) + _filter_table(policy)) + "\n"


# --- IPv6 (ip6tables-restore) ------------------------------------------------------------------


# ip6tables' names of the ICMPv6 types the policy keeps
ICMPV6_TYPES = {
    "neighbor-solicit": "neighbour-solicitation",
    "neighbor-advert": "neighbour-advertisement",
}


def _neighbour_discovery(chain):
    return [
        "-A %s -p ipv6-icmp -m icmp6 --icmpv6-type %s -m hl --hl-eq 255 -j ACCEPT"
        % (chain, ICMPV6_TYPES[kind])
        for kind in _policy.IPV6_NEIGHBOUR_DISCOVERY
    ]


def _ipv6_mpcpu_chain(chain):
    drop = _comment("IPv6 on an MPCPU network: MPCPUs speak IPv4 only")
    return _neighbour_discovery(chain) + ["-A %s %s -j DROP" % (chain, drop)]


def _management6(policy):
    """SSH from the IPv6 management networks (the MPCPU-facing interfaces jumped away first)."""
    if _policy.MANAGEMENT6 not in policy["sets"]:
        return []
    ports = ",".join(str(port) for port in policy["management_ports"])
    return [
        "-A %s -s %s -p tcp -m multiport --dports %s %s -j ACCEPT"
        % (INPUT, block, ports, _comment("management access"))
        for block in _blocks(policy, _policy.MANAGEMENT6)
    ]


def _input_chain6(policy):
    drop_mode = policy["input_policy"] == "drop"
    lines = ["-A %s -i lo -j %s" % (INPUT, "ACCEPT" if drop_mode else "RETURN")]
    lines += [
        "-A %s -i %s -j %s" % (INPUT, name, FROM_MPCPU_NETWORKS)
        for name in policy["mpcpu_interfaces"]
    ]
    if drop_mode:
        lines.append("-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % INPUT)
    lines += _management6(policy)
    if drop_mode:
        lines += [
            "-A %s -p ipv6-icmp -m icmp6 --icmpv6-type %s -j ACCEPT" % (INPUT, kind)
            for kind in (
                "neighbour-solicitation",
                "neighbour-advertisement",
                "router-advertisement",
            )
        ]
        lines.append("-A %s -j DROP" % INPUT)
    return lines


def _filter_table6(policy):
    chains = [INPUT, FROM_MPCPU_NETWORKS, OUTPUT, TO_MPCPU_NETWORKS, FORWARD]
    lines = ["*filter"] + [":%s - [0:0]" % chain for chain in chains]
    lines += _input_chain6(policy)
    lines += _ipv6_mpcpu_chain(FROM_MPCPU_NETWORKS)
    lines.append("-A %s -o lo -j RETURN" % OUTPUT)
    for name in policy["mpcpu_interfaces"]:
        lines.append("-A %s -o %s -j %s" % (OUTPUT, name, TO_MPCPU_NETWORKS))
    lines += _ipv6_mpcpu_chain(TO_MPCPU_NETWORKS)
    for name in policy["mpcpu_interfaces"]:
        for option, way in (("-i", "from"), ("-o", "to")):
            comment = _comment("no IPv6 forwarded %s an MPCPU network" % way)
            lines.append("-A %s %s %s %s -j DROP" % (FORWARD, option, name, comment))
    return lines + ["COMMIT"]


def render6(policy):
    """The whole file for ``ip6tables-restore --noflush``."""
    header = _header(
        policy, "ip6tables-restore", "IPv6, closed on the interfaces of MPCPU networks"
    )
    return "\n".join(header + _filter_table6(policy)) + "\n"
