# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cisco IOS extended ACLs for a router between the MPCPU networks and the PC side.

Rendered for the network team's change request, never applied by the collection. Addresses live
in object groups, so the number of ACL entries does not grow with the number of MPCPUs.

An IOS ACL is stateless, so each flow needs its answer spelled out: TCP answers pass with
``established``, UDP answers by an entry with the ports swapped, and TFTP data, which the
serving side sends from a fresh port, by entries for unprivileged ports (above 1023) between
the same hosts. A stateful alternative is zone-based firewall with ``match protocol tftp``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import boundary
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import policy as _policy

FROM_DEVICES = "MPCPU-FROM-DEVICES"
TO_DEVICES = "MPCPU-TO-DEVICES"
UNPRIVILEGED = "gt 1023"
NOTHING_CROSSES = "No Appendix D flow of this site crosses between networks: nothing to filter.\n"


class CiscoRenderError(ValueError):
    """The policy has nothing a router ACL could hold."""


def group_name(set_name):
    short = set_name.replace(_policy.ALL_MPCPUS, "devices").replace("mpcpu_", "")
    return "MPCPU-" + short.replace("_", "-").upper()


def _member(kind, element):
    if kind == _policy.NETWORKS:
        network = ipaddress.ip_network(element)
        if network.prefixlen < 32:
            return " %s %s" % (network.network_address, network.netmask)
        element = str(network.network_address)
    return " host %s" % element


def _object_group(address_set):
    lines = ["object-group network %s" % group_name(address_set.name)]
    lines.append(" description %s" % address_set.description[:200])
    lines += [_member(address_set.kind, element) for element in address_set.elements]
    return lines


def _end(group, port):
    words = ["object-group %s" % group]
    if port is not None:
        words.append("eq %d" % port)
    return " ".join(words)


def _entry(protocol, source, destination, suffix=""):
    return (" permit %s %s %s %s" % (protocol, source, destination, suffix)).rstrip()


def _mpcpu_side_sets(policy):
    """Names of the address sets holding an address on an MPCPU network."""
    networks = boundary.mpcpu_networks(policy)
    return set(
        name
        for name, address_set in policy["sets"].items()
        if address_set.kind not in (_policy.MACS, _policy.INTERFACES)
        and any(boundary.on_mpcpu_network(element, networks) for element in address_set.elements)
    )


def _flow_entries(rule, mpcpu_side):
    """(entries for traffic leaving an MPCPU network, entries for traffic entering one).

    An entry goes into each ACL its packet meets: one from a set with addresses on an MPCPU
    network leaves through MPCPU-FROM-DEVICES, one towards such a set enters through
    MPCPU-TO-DEVICES; a flow between two MPCPU networks (MPCPUs on one, a PC part on another)
    meets both.
    """
    src, dst = group_name(rule.src), group_name(rule.dst)
    established = "established" if rule.protocol == "tcp" else ""
    # (source set, destination set, entry): the request, its answer, then TFTP data both ways
    entries = [
        (
            rule.src,
            rule.dst,
            _entry(rule.protocol, _end(src, rule.src_port), _end(dst, rule.dst_port)),
        ),
        (
            rule.dst,
            rule.src,
            _entry(rule.protocol, _end(dst, rule.dst_port), _end(src, rule.src_port), established),
        ),
    ]
    if rule.helper:
        entries += [
            (
                rule.dst,
                rule.src,
                _entry("udp", _end(dst, None), "%s %s" % (_end(src, None), UNPRIVILEGED)),
            ),
            (
                rule.src,
                rule.dst,
                _entry("udp", _end(src, None), "%s %s" % (_end(dst, None), UNPRIVILEGED)),
            ),
        ]
    remark = " remark %s" % rule.comment
    leaving = [remark] + [entry for source, _dst, entry in entries if source in mpcpu_side]
    arriving = [remark] + [entry for _src, dst_set, entry in entries if dst_set in mpcpu_side]
    return leaving, arriving


def _acl(name, entries, policy):
    return ["ip access-list extended %s" % name] + entries + _acl_end(name, policy)


def _acl_end(name, policy):
    """Everything else is denied; beside MPCPUs on a shared network, only what the MPCPUs send
    or receive: the other hosts there are not the MPCPU firewall's to filter."""
    if not policy["shared_networks"]:
        return [" deny ip any any log"]
    mpcpus = "object-group %s" % group_name(_policy.MPCPU_NETWORKS)
    ends = "%s any" % mpcpus if name == FROM_DEVICES else "any %s" % mpcpus
    return [
        " deny ip %s log" % ends,
        " remark hosts sharing a network with MPCPUs (kind shared): not filtered here",
        " permit ip any any",
    ]


def _header(policy, groups):
    lines = [
        "! MPCPU router ACLs of %s (site %s), generated by megapower.mpcpu from Appendix D."
        % (policy["host"], policy["site"]),
        "! On every interface facing an MPCPU network:",
        "!   ip access-group %s in" % FROM_DEVICES,
        "!   ip access-group %s out" % TO_DEVICES,
        "! Stateless: TCP answers pass as 'established', UDP answers and TFTP data by their own",
        "! entries. Replace in a maintenance window: between the 'no' lines and the new",
        "! definitions an interface whose ACL is missing permits everything.",
        "no ip access-list extended %s" % FROM_DEVICES,
        "no ip access-list extended %s" % TO_DEVICES,
    ]
    return lines + ["no object-group network %s" % group for group in groups]


def _dhcp_broadcasts(rules):
    """An MPCPU without an address broadcasts; a DHCP server or relay on the router hears it."""
    for rule in rules:
        if rule.application == "dhcp":
            return [
                " remark %s: broadcasts of MPCPUs without an address" % rule.purpose,
                _entry(
                    rule.protocol,
                    "host 0.0.0.0 eq %d" % rule.src_port,
                    "host 255.255.255.255 eq %d" % rule.dst_port,
                ),
            ]
    return []


def render(policy):
    """The change-request text for ``policy``'s forward rules."""
    rules = _policy.rules_in(policy, _policy.FORWARD)
    if not rules:
        raise CiscoRenderError(
            "%s: cisco_ios: no Appendix D flow crosses this host; router ACLs are rendered for "
            "routers (mpcpu_routers) or for the whole site" % policy["host"]
        )
    used = set(name for rule in rules for name in (rule.src, rule.dst))
    if policy["shared_networks"]:
        used.add(_policy.MPCPU_NETWORKS)
    sets = [s for name, s in policy["sets"].items() if name in used]
    mpcpu_side = _mpcpu_side_sets(policy)
    leaving, arriving = [], []
    for rule in rules:
        out_entries, in_entries = _flow_entries(rule, mpcpu_side)
        leaving += out_entries
        arriving += in_entries
    leaving += _dhcp_broadcasts(rules)
    lines = _header(policy, [group_name(s.name) for s in sets])
    for address_set in sets:
        lines += _object_group(address_set) + ["!"]
    lines += _acl(FROM_DEVICES, leaving, policy) + ["!"] + _acl(TO_DEVICES, arriving, policy)
    return "\n".join(lines) + "\n"
