# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables: one ``table inet mpcpu`` per host, loaded in one transaction with ``nft -f``.

The file first declares the table empty and deletes it, then defines it in full: nft applies a
file as one batch, so the old table is replaced atomically and no other table is touched (nft
1.0.6 on Debian 12 has no ``destroy table``; the empty declaration makes the delete safe when
the table does not exist yet).

In nftables an ``accept`` only ends this table's chain: other tables still see the packet. So
this table can only take traffic away, never open what another firewall drops.

The ``inet`` table sees both address families. IPv6 on an MPCPU-facing interface jumps, before
anything else is accepted, to chains that keep neighbour discovery only; a router forwards no
IPv6 from or to such an interface.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import policy as _policy

TABLE_FAMILY = "inet"
TABLE_NAME = "mpcpu"
HELPER_NAME = "tftp"
SET_TYPES = {
    _policy.ADDRESSES: ("ipv4_addr", False),
    _policy.NETWORKS: ("ipv4_addr", True),
    _policy.MACS: ("ether_addr", False),
    _policy.IPV6_NETWORKS: ("ipv6_addr", True),
    _policy.INTERFACES: ("ifname", False),
}
FROM_MPCPU_NETWORKS = "from_mpcpu_networks"
TO_MPCPU_NETWORKS = "to_mpcpu_networks"
MPCPU_FORWARD = "mpcpu_forward"
IPV6_FROM_MPCPU_NETWORKS = "ipv6_from_mpcpu_networks"
IPV6_TO_MPCPU_NETWORKS = "ipv6_to_mpcpu_networks"


def _quote(text):
    return '"%s"' % text.replace('"', "'")


def _set_block(address_set):
    set_type, interval = SET_TYPES[address_set.kind]
    lines = ["\tset %s {" % address_set.name, "\t\ttype %s" % set_type]
    if interval:
        lines.append("\t\tflags interval")
    lines.append("\t\tcomment %s" % _quote(address_set.description))
    if address_set.elements:
        lines.append("\t\telements = {")
        quoted = address_set.kind == _policy.INTERFACES
        lines += [
            "\t\t\t%s," % (_quote(element) if quoted else element)
            for element in address_set.elements
        ]
        lines.append("\t\t}")
    lines.append("\t}")
    return lines


def _ports(rule):
    words = []
    if rule.src_port is not None:
        words.append("%s sport %d" % (rule.protocol, rule.src_port))
    if rule.dst_port is not None:
        words.append("%s dport %d" % (rule.protocol, rule.dst_port))
    if not words:
        words.append("meta l4proto %s" % rule.protocol)
    return words


def rule_line(rule):
    """One rule of the table, as nft writes it."""
    words = []
    if rule.kind == _policy.DHCP_DISCOVER:
        words += ["ip saddr 0.0.0.0", "ip daddr 255.255.255.255"]
        words.append("ether saddr @%s" % _policy.MPCPU_MACS)
    if rule.src:
        words.append("ip saddr @%s" % rule.src)
    if rule.dst:
        words.append("ip daddr @%s" % rule.dst)
    words += _ports(rule)
    if rule.helper:
        words.append("ct helper set %s" % _quote(HELPER_NAME))
    words += ["accept", "comment %s" % _quote(rule.comment)]
    return " ".join(words)


def _drop(policy, where, comment="MPCPU traffic the table does not name"):
    if policy["log_drops"]:
        return 'log prefix "mpcpu drop %s: " counter drop' % where
    return "counter drop comment %s" % _quote(comment)


def _ipv6_jump(policy, direction, chain):
    """IPv6 on an MPCPU-facing interface goes to ``chain`` before anything is accepted."""
    if not policy["mpcpu_interfaces"]:
        return []
    return ["meta nfproto ipv6 %sname @%s jump %s" % (direction, _policy.MPCPU_INTERFACES, chain)]


def _ipv6_mpcpu_chain(policy, name, where):
    types = ", ".join("nd-%s" % kind for kind in _policy.IPV6_NEIGHBOUR_DISCOVERY)
    body = [
        "icmpv6 type { %s } ip6 hoplimit 255 accept comment %s"
        % (types, _quote("neighbour discovery of the link, no service")),
        _drop(policy, where, "IPv6 on an MPCPU network: MPCPUs speak IPv4 only"),
    ]
    return _chain(name, None, None, body)


def _chain(name, hook, policy_verdict, body):
    lines = ["\tchain %s {" % name]
    if hook:
        lines.append("\t\ttype filter hook %s priority filter; policy %s;" % (hook, policy_verdict))
    lines += ["\t\t" + line for line in body]
    lines.append("\t}")
    return lines


def _management_ports(policy):
    ports = policy["management_ports"]
    if len(ports) == 1:
        return "tcp dport %d" % ports[0]
    return "tcp dport { %s }" % ", ".join(str(port) for port in ports)


def _input_chain(policy):
    body = ['iif "lo" accept']
    body += _ipv6_jump(policy, "iif", IPV6_FROM_MPCPU_NETWORKS)
    body += [
        "ct state established,related accept",
        "ip saddr @%s ip saddr != @%s %s accept comment %s"
        % (
            _policy.MANAGEMENT,
            _policy.ALL_MPCPUS,
            _management_ports(policy),
            _quote("management access"),
        ),
    ]
    if _policy.MANAGEMENT6 in policy["sets"]:
        body.append(
            "ip6 saddr @%s %s accept comment %s"
            % (_policy.MANAGEMENT6, _management_ports(policy), _quote("management access"))
        )
    body += [
        rule_line(rule)
        for rule in _policy.rules_in(policy, _policy.INPUT, kinds=(_policy.DHCP_DISCOVER,))
    ]
    body += [rule_line(rule) for rule in _policy.relay_legs(policy, _policy.INPUT)]
    body.append("ip saddr @%s jump %s" % (_policy.MPCPU_NETWORKS, FROM_MPCPU_NETWORKS))
    if policy["input_policy"] == "drop":
        body += [
            "ip saddr @%s icmp type echo-request accept" % _policy.MANAGEMENT,
            "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept",
        ]
    return _chain("input", "input", policy["input_policy"], body)


def _output_chain(policy):
    body = ['oif "lo" accept']
    body += _ipv6_jump(policy, "oif", IPV6_TO_MPCPU_NETWORKS)
    body += [
        "ct state established,related accept",
        "ip daddr @%s jump %s" % (_policy.MPCPU_NETWORKS, TO_MPCPU_NETWORKS),
    ]
    return _chain("output", "output", "accept", body)


def _forward_chain(policy):
    body = []
    if policy["mpcpu_interfaces"]:
        for direction, way in (("iif", "from"), ("oif", "to")):
            verdict = _drop(policy, "fwd6", "no IPv6 forwarded %s an MPCPU network" % way)
            body.append(
                "meta nfproto ipv6 %sname @%s %s" % (direction, _policy.MPCPU_INTERFACES, verdict)
            )
    if policy["router"]:
        body += [
            "ct state established,related accept",
            "ip saddr @%s jump %s" % (_policy.MPCPU_NETWORKS, MPCPU_FORWARD),
            "ip daddr @%s jump %s" % (_policy.MPCPU_NETWORKS, MPCPU_FORWARD),
        ]
    return _chain("forward", "forward", "accept", body)


def _mpcpu_chain(policy, name, chain, where):
    body = ["ct state invalid drop"]
    body += [rule_line(rule) for rule in _policy.rules_in(policy, chain)]
    body.append(_drop(policy, where))
    return _chain(name, None, None, body)


def _header(policy):
    return [
        "# MPCPU firewall of %s (site %s): the Appendix D flows this host takes part in."
        % (policy["host"], policy["site"]),
        "# Generated by megapower.mpcpu from the site model: change the inventory, not this file.",
        "# Loading it replaces table %s %s in one transaction; other tables are left alone."
        % (TABLE_FAMILY, TABLE_NAME),
        "table %s %s {" % (TABLE_FAMILY, TABLE_NAME),
        "}",
        "delete table %s %s" % (TABLE_FAMILY, TABLE_NAME),
        "",
    ]


def render(policy):
    """The whole file for ``nft -f``."""
    table = []
    if any(rule.helper for rule in policy["rules"]):
        table.append(
            [
                "\tct helper %s {" % HELPER_NAME,
                '\t\ttype "%s" protocol udp' % HELPER_NAME,
                "\t\tl3proto ip",
                "\t}",
            ]
        )
    table += [_set_block(address_set) for address_set in _policy.used_sets(policy)]
    table.append(_input_chain(policy))
    table.append(_mpcpu_chain(policy, FROM_MPCPU_NETWORKS, _policy.INPUT, "in"))
    table.append(_output_chain(policy))
    table.append(_mpcpu_chain(policy, TO_MPCPU_NETWORKS, _policy.OUTPUT, "out"))
    if policy["mpcpu_interfaces"]:
        table.append(_ipv6_mpcpu_chain(policy, IPV6_FROM_MPCPU_NETWORKS, "in6"))
        table.append(_ipv6_mpcpu_chain(policy, IPV6_TO_MPCPU_NETWORKS, "out6"))
    if policy["router"] or policy["mpcpu_interfaces"]:
        table.append(_forward_chain(policy))
    if policy["router"]:
        table.append(_mpcpu_chain(policy, MPCPU_FORWARD, _policy.FORWARD, "fwd"))
    body = []
    for block in table:
        body += block + [""]
    lines = _header(policy) + ["table %s %s {" % (TABLE_FAMILY, TABLE_NAME)]
    lines += body[:-1] + ["}"]
    return "\n".join(lines) + "\n"
