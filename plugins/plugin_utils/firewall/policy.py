# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's share of the Appendix D flows, as target-neutral rules over named address sets.

The compiled site model lists every concrete flow (each row, for each MPCPU, with each host of
its PC part) and, in each host's view (``site_model.host_view``), the flows the host takes part
in and, for a router, the flows that cross it. The policy reads that view; it never works out
a host's share or re-checks the model, which the site model validated once:

- as the PC side of a row (it is in the row's PC-part group): the flow enters its ``input``
  chain when the MPCPU starts it, and leaves through its ``output`` chain when the PC starts it;
- as a router between an MPCPU network and the PC's network (gateway mode): the flow crosses
  its ``forward`` chain.

Addresses live in named sets (all MPCPUs, the MPCPU networks, the management networks, the PC
hosts of each part a router forwards to), so the number of rules depends on the rows in use,
never on the number of devices. What the model cannot know (the options given here, the host's
interface addresses) is checked here, every problem collected and raised before any target
renders, so bad input never reaches a host.

IPv6: MPCPUs speak IPv4 only, and an IPv6 packet carries nothing that says which IPv4 network
it came from. What comes from an MPCPU network over IPv6 is recognised by the interface it
arrives on: the host's interfaces that carry an address inside an MPCPU network (read from the
host, as the dhcp role finds its MPCPU-facing interface). On those, every target drops all IPv6
in, out and forwarded, but neighbour discovery (solicitations and advertisements, hop limit 255).
IPv6 management networks (``management_networks`` may name them) keep SSH from other interfaces.

Shared networks (kind ``shared``: MPCPUs among other hosts, a flat site): the MPCPU networks
set holds each MPCPU's own address there instead of the network, so every target matches the
MPCPUs by address and leaves the other hosts alone; their interfaces keep IPv6.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress
import operator
import re
import socket
from collections.abc import Mapping

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options, site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import boundary
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import (
    settings as site_settings,
)

INPUT = "input"
OUTPUT = "output"
FORWARD = "forward"
CHAINS = (INPUT, OUTPUT, FORWARD)

# What a rule is for: a flow of the table, the reply a stateful firewall cannot see coming
# (DHCP answers a broadcast), or the broadcast of an MPCPU that has no address yet.
FLOW = "flow"
REPLY = "reply"
DHCP_DISCOVER = "dhcp_discover"
# A flow the site needs beside Appendix D (mpcpu_site.extra_flows): its row is the flow's name.
EXTRA = "extra"

ADDRESSES = "addresses"
NETWORKS = "networks"
MACS = "macs"

# Network kinds (site_model.settings): dedicated to MPCPUs, or MPCPUs among other hosts.
DEDICATED = "mpcpu"
SHARED = "shared"

INPUT_POLICIES = ("accept", "drop")
DEFAULT_MANAGEMENT_PORTS = (22,)

# The boundary's own sets: ``boundary`` names them; the renderers read them from here too.
ALL_MPCPUS = boundary.ALL_MPCPUS
MPCPU_NETWORKS = boundary.MPCPU_NETWORKS
MANAGEMENT = "management"
MANAGEMENT6 = "management6"
MPCPU_MACS = "mpcpu_macs"
MPCPU_INTERFACES = "mpcpu_interfaces"
IPV6_NETWORKS = "ipv6_networks"
INTERFACES = "interfaces"
# The only IPv6 an MPCPU-facing interface keeps, both ways: the link's neighbour discovery.
IPV6_NEIGHBOUR_DISCOVERY = ("neighbor-solicit", "neighbor-advert")
_INTERFACE_NAME = re.compile(r"^[A-Za-z0-9_.@:-]{1,15}$")

Rule = collections.namedtuple(
    "Rule",
    [
        "chain",  # INPUT, OUTPUT or FORWARD: where the first packet of the flow is judged
        "kind",  # FLOW, REPLY or DHCP_DISCOVER
        "row",  # the Appendix D row id
        "purpose",  # the row's purpose, for comments
        "protocol",  # "tcp" or "udp"
        "src",  # name of the source address set; None means any source
        "dst",  # name of the destination address set; None means any destination
        "src_port",  # None means any
        "dst_port",  # None means any
        "application",  # the row's application: "tftp", "dhcp" or None
        "helper",  # conntrack helper to attach ("tftp") or None
        "comment",
    ],
)

AddressSet = collections.namedtuple("AddressSet", ["name", "kind", "elements", "description"])


class FirewallPolicyError(site_model.SiteModelError):
    """The model cannot be turned into a firewall; ``errors`` lists every problem."""

    summary = "cannot build the MPCPU firewall"

    def __str__(self):
        return "%s (%d problem%s):\n- %s" % (
            self.summary,
            len(self.errors),
            "" if len(self.errors) == 1 else "s",
            "\n- ".join(self.errors),
        )


# --- checking what the model cannot know: the options and the host's addresses --------------


def _check_options(input_policy, management_ports, errors):
    if input_policy not in INPUT_POLICIES:
        errors.add(
            "options",
            "input_policy",
            "%r is not one of %s" % (input_policy, ", ".join(INPUT_POLICIES)),
        )
    ports_problem = role_options.management_ports_problem(management_ports)
    if ports_problem:
        errors.add("options", "management_ports", ports_problem)


def _check_interface_addresses(interface_addresses, errors):
    """``interface_addresses`` is None (not read) or [{device, address}] of the host."""
    if interface_addresses is None:
        return
    if not isinstance(interface_addresses, (list, tuple)):
        errors.add("options", "interface_addresses", "give a list of {device, address}")
        return
    for index, entry in enumerate(interface_addresses):
        where = "options", "interface_addresses[%d]" % index
        if not isinstance(entry, dict):
            errors.add(*where, message="%r is not a {device, address} mapping" % (entry,))
            continue
        device = entry.get("device")
        if not isinstance(device, str) or not _INTERFACE_NAME.match(device):
            errors.add(*where, message="%r is not an interface name" % (device,))
        try:
            ipaddress.ip_address(entry.get("address"))
        except ValueError:
            errors.add(*where, message="%r is not an IP address" % (entry.get("address"),))


# --- address sets ----------------------------------------------------------------------------


def _sorted_addresses(addresses):
    # inet_aton gives the address as 4 big-endian bytes, which sort like the numbers; it is
    # many times faster than ipaddress for the 10,000s of addresses of a large site.
    return sorted(set(addresses), key=socket.inet_aton)


def _address_number(text):
    return int.from_bytes(socket.inet_aton(text), "big")


def _sorted_networks(cidrs, version=4):
    networks = set(ipaddress.ip_network(text) for text in cidrs)
    return [str(n) for n in sorted(n for n in networks if n.version == version)]


class _SetTable(collections.OrderedDict):
    def add(self, name, kind, elements, description):
        self[name] = AddressSet(name, kind, list(elements), description)
        return name

    def devices(self, row_id, addresses):
        """The set of MPCPUs a rule names: the shared one when it holds the same addresses."""
        if ALL_MPCPUS in self and len(addresses) == len(self[ALL_MPCPUS].elements):
            return ALL_MPCPUS
        return self.add(
            "%s_%s" % (ALL_MPCPUS, row_id),
            ADDRESSES,
            _sorted_addresses(addresses),
            "MPCPUs of row %s" % row_id,
        )


def _part_set_name(part):
    return part[len("mpcpu_") :] if part.startswith("mpcpu_") else part


# --- which flows a host takes part in: read from its view --------------------------------------

# Of each flow (10,000s at a large site) the firewall needs only these few fields.
_OWN_END = operator.itemgetter("row", "mpcpu_ip")
_CROSSING_ENDS = operator.itemgetter("row", "mpcpu_ip", "pc_ip")


def _compiled(model, errors):
    """Whether ``model`` is the compiled site model (with its flows and host views)."""
    if isinstance(model, Mapping) and isinstance(model.get("hosts"), Mapping) and "flows" in model:
        return True
    errors.add(
        "site model",
        "hosts",
        "not a compiled site model: give the result of megapower.mpcpu.site_model",
    )
    return False


def _view(model, host, errors):
    """The host's view in the compiled model, or None after naming the problem."""
    if not _compiled(model, errors):
        return None
    try:
        return site_model.host_view(model, host)
    except (KeyError, TypeError):
        errors.add(
            host,
            "groups",
            "is not a host of the MPCPU site: it is in no group of the site's inventory",
        )
        return None


def _own_share(flows):
    """{row: MPCPU addresses} of the flows whose PC side the host plays."""
    share = collections.defaultdict(set)
    for row_id, device_ip in map(_OWN_END, flows):
        share[row_id].add(device_ip)
    return share


def _crossing_share(flows):
    """{row: (MPCPU addresses, PC addresses)} of the flows that cross a router."""
    share = collections.defaultdict(lambda: (set(), set()))
    for row_id, device_ip, pc_ip in map(_CROSSING_ENDS, flows):
        devices, pc_hosts = share[row_id]
        devices.add(device_ip)
        pc_hosts.add(pc_ip)
    return share


# --- rules ---------------------------------------------------------------------------------------


def _rule(row, chain, kind, *, ends, ports, comment):
    return Rule(
        chain=chain,
        kind=kind,
        row=row["id"],
        purpose=row["purpose"],
        protocol=row["protocol"],
        src=ends[0],
        dst=ends[1],
        src_port=ports[0],
        dst_port=ports[1],
        application=row["application"],
        helper=row["application"] if row["application"] == "tftp" else None,
        comment=comment,
    )


def _own_rules(row, device_ips, sets):
    """Rules of a host that plays the PC side of ``row``."""
    devices = sets.devices(row["id"], device_ips)
    ports = boundary.initiator_ports(row)
    if row["initiator"] == appendix_d.MPCPU:
        rules = [_rule(row, INPUT, FLOW, ends=(devices, None), ports=ports, comment=row["purpose"])]
    else:
        rules = [
            _rule(row, OUTPUT, FLOW, ends=(None, devices), ports=ports, comment=row["purpose"])
        ]
    if row["application"] == "dhcp":
        rules += _dhcp_rules(row, ports)
    return rules


def _dhcp_rules(row, ports):
    """An MPCPU without an address broadcasts; the server answers to the address it offers."""
    return [
        _rule(
            row,
            INPUT,
            DHCP_DISCOVER,
            ends=(None, None),
            ports=ports,
            comment="%s: broadcast of an MPCPU without an address" % row["purpose"],
        ),
        _rule(
            row,
            OUTPUT,
            REPLY,
            ends=(None, MPCPU_NETWORKS),
            ports=(ports[1], ports[0]),
            comment="%s: offers and answers" % row["purpose"],
        ),
    ]


def _forward_rules(row, ends, sets):
    """Rules of a router the flows of ``row`` cross."""
    devices = sets.devices(row["id"], ends[0])
    pc_hosts = sets.add(
        _part_set_name(row["pc_part"]),
        ADDRESSES,
        _sorted_addresses(ends[1]),
        "hosts of %s behind this router" % row["pc_part"],
    )
    ends = (devices, pc_hosts) if row["initiator"] == appendix_d.MPCPU else (pc_hosts, devices)
    return [
        _rule(
            row,
            FORWARD,
            FLOW,
            ends=ends,
            ports=boundary.initiator_ports(row),
            comment=row["purpose"],
        )
    ]


def _rules(model, own, crossing, sets):
    rules = []
    for row in model["rows"]:
        if row["id"] in own:
            rules += _own_rules(row, own[row["id"]], sets)
    for row in model["rows"]:
        if row["id"] in crossing:
            rules += _forward_rules(row, crossing[row["id"]], sets)
    order = {chain: index for index, chain in enumerate(CHAINS)}
    return sorted(rules, key=lambda rule: order[rule.chain])


# --- the site's own flows beside Appendix D ----------------------------------------------------


def _inside(cidrs, addresses):
    networks = [ipaddress.ip_network(cidr) for cidr in cidrs]
    return any(ipaddress.ip_address(a) in network for a in addresses for network in networks)


def _networks_of(cidrs, model):
    ends = [ipaddress.ip_network(cidr) for cidr in cidrs]
    return set(
        n["name"]
        for n in model["networks"]
        if any(end.overlaps(ipaddress.ip_network(n["cidr"])) for end in ends)
    )


def _crosses(flow, model, joined):
    """Whether ``flow`` goes from one of the ``joined`` networks into another."""
    sources = _networks_of(flow["src"], model) & joined
    destinations = _networks_of(flow["dst"], model) & joined
    return bool(sources and destinations and (sources | destinations) != sources & destinations)


def extra_share(model, view):
    """[(chain, extra flow)] of a host: INPUT where it is a destination, OUTPUT where it is a
    source, FORWARD where, as a router, it joins a network of each end."""
    share = []
    joined = set(view["networks"].values()) if view["router"] else set()
    for flow in model.get("extra_flows") or ():
        if _inside(flow["dst"], view["addresses"]):
            share.append((INPUT, flow))
        if _inside(flow["src"], view["addresses"]):
            share.append((OUTPUT, flow))
        if joined and _crosses(flow, model, joined):
            share.append((FORWARD, flow))
    return share


# The protocols every target knows by name; any other is written as its number, which needs no
# /etc/protocols on the host (VRRP is 112).
NAMED_PROTOCOLS = ("tcp", "udp", "icmp")


def protocol_word(protocol):
    """The protocol as the targets write it: tcp, udp, icmp, or the IP protocol's number."""
    if protocol in NAMED_PROTOCOLS:
        return protocol
    return str(site_settings.PROTOCOL_NUMBERS.get(protocol, protocol))


def _extra_rules(share, sets):
    rules = []
    for chain, flow in share:
        ends = []
        for side, cidrs in (("from", flow["src"]), ("to", flow["dst"])):
            ends.append(
                sets.add(
                    "extra_%s_%s" % (flow["name"], side),
                    NETWORKS,
                    _sorted_networks(cidrs),
                    "site flow %s: %s" % (flow["name"], ", ".join(flow[side])),
                )
            )
        if chain == INPUT:
            ends[1] = None
        elif chain == OUTPUT:
            ends[0] = None
        rules.append(
            Rule(
                chain=chain,
                kind=EXTRA,
                row=flow["name"],
                purpose="site flow %s" % flow["name"],
                protocol=protocol_word(flow["protocol"]),
                src=ends[0],
                dst=ends[1],
                src_port=None,
                dst_port=flow["port"],
                application=None,
                helper=None,
                comment="site flow %s" % flow["name"],
            )
        )
    return rules


# --- shadowing ---------------------------------------------------------------------------------


def _intervals(address_set):
    """The set as sorted, merged (first, last) integer ranges."""
    if address_set.kind == NETWORKS:
        spans = [ipaddress.ip_network(e) for e in address_set.elements]
        ranges = sorted((int(n.network_address), int(n.broadcast_address)) for n in spans)
    else:
        ranges = [(_address_number(e),) * 2 for e in address_set.elements]
    merged = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _overlap(first, second):
    i = j = 0
    while i < len(first) and j < len(second):
        if first[i][1] < second[j][0]:
            i += 1
        elif second[j][1] < first[i][0]:
            j += 1
        else:
            return True
    return False


def _addresses_overlap(name_a, name_b, sets, cache):
    if name_a is None or name_b is None or name_a == name_b:
        return True
    for name in (name_a, name_b):
        if name not in cache:
            cache[name] = _intervals(sets[name])
    return _overlap(cache[name_a], cache[name_b])


def _ports_cover(earlier, later):
    return earlier.protocol == later.protocol and all(
        mine is None or mine == theirs
        for mine, theirs in (
            (earlier.src_port, later.src_port),
            (earlier.dst_port, later.dst_port),
        )
    )


def _describe(rule):
    def port(value):
        return "any" if value is None else str(value)

    return "%s (%s, port %s to port %s)" % (
        rule.row,
        rule.protocol,
        port(rule.src_port),
        port(rule.dst_port),
    )


def _check_shadowing(host, rules, sets, errors):
    """A later rule whose packets an earlier rule already decides is a mistake in the ports."""
    cache = {}
    comparable = [rule for rule in rules if rule.kind != DHCP_DISCOVER]
    for index, later in enumerate(comparable):
        for earlier in comparable[:index]:
            if (
                earlier.chain == later.chain
                and _ports_cover(earlier, later)
                and _addresses_overlap(earlier.src, later.src, sets, cache)
                and _addresses_overlap(earlier.dst, later.dst, sets, cache)
            ):
                errors.add(
                    host,
                    "%s chain" % later.chain,
                    "the rule for %s shadows the rule for %s: the same packets match both, so "
                    "the second never decides; programme different ports in "
                    "mpcpu_site.port_overrides" % (_describe(earlier), _describe(later)),
                )


# --- entry point ---------------------------------------------------------------------------------


def _mpcpu_interfaces(model, interface_addresses):
    """The host's interfaces that carry an address inside a network dedicated to MPCPUs (on a
    shared network the interface carries everyone else's IPv6 too: it stays open)."""
    networks = [
        ipaddress.ip_network(n["cidr"]) for n in model["networks"] if n["kind"] == DEDICATED
    ]
    return sorted(
        set(
            entry["device"]
            for entry in interface_addresses or []
            if any(ipaddress.ip_address(entry["address"]) in network for network in networks)
        )
    )


def shared_networks(model):
    """The networks of kind shared: MPCPUs among other hosts."""
    return [n for n in model["networks"] if n["kind"] == SHARED]


def _add_mpcpu_networks(model, sets):
    """What the firewalls treat as MPCPU traffic: every network dedicated to MPCPUs whole, and
    on a shared network each MPCPU's own address (every MPCPU of the site, so that one this
    host never talks to is still refused); the other hosts there are left alone."""
    dedicated = [n["cidr"] for n in model["networks"] if n["kind"] == DEDICATED]
    shared = set(n["name"] for n in shared_networks(model))
    if not shared:
        sets.add(
            MPCPU_NETWORKS,
            NETWORKS,
            _sorted_networks(dedicated),
            "networks of kind mpcpu: what comes from or goes to them is MPCPU traffic",
        )
        return
    on_shared = ["%s/32" % d["ip"] for d in model["mpcpus"] if d["network"] in shared]
    sets.add(
        MPCPU_NETWORKS,
        NETWORKS,
        _sorted_networks(dedicated + on_shared),
        "networks of kind mpcpu and the MPCPUs on networks of kind shared: what comes from or "
        "goes to them is MPCPU traffic",
    )


def _base_sets(model, device_ips, mpcpu_interfaces):
    sets = _SetTable()
    sets.add(
        MANAGEMENT,
        NETWORKS,
        _sorted_networks(model["management_networks"]),
        "networks the controller manages hosts from: SSH open to them, never to an MPCPU",
    )
    _add_mpcpu_networks(model, sets)
    sets.add(ALL_MPCPUS, ADDRESSES, _sorted_addresses(device_ips), "every MPCPU this host talks to")
    management6 = _sorted_networks(model["management_networks"], version=6)
    if management6:
        sets.add(
            MANAGEMENT6,
            IPV6_NETWORKS,
            management6,
            "IPv6 networks the controller manages hosts from: SSH open to them, never through "
            "an MPCPU-facing interface",
        )
    if mpcpu_interfaces:
        sets.add(
            MPCPU_INTERFACES,
            INTERFACES,
            mpcpu_interfaces,
            "interfaces with an address in an MPCPU network: no IPv6 from or to them",
        )
    return sets


def _add_mac_set(model, own, sets):
    dhcp_rows = [row["id"] for row in model["rows"] if row["application"] == "dhcp"]
    dhcp_ips = set().union(*(own.get(row_id, ()) for row_id in dhcp_rows))
    if dhcp_ips:
        macs = sorted(d["mac"] for d in model["mpcpus"] if d["ip"] in dhcp_ips)
        sets.add(MPCPU_MACS, MACS, macs, "MPCPU MACs: DHCP broadcasts come from no address")


def _assemble(model, host, own, crossing, **options):
    """The policy of ``host`` from its share of the flows: ``own`` {row: MPCPU addresses} and
    ``crossing`` {row: (MPCPU addresses, PC addresses)}."""
    device_ips = set().union(*own.values(), *(ends[0] for ends in crossing.values()))
    sets = _base_sets(model, device_ips, options["mpcpu_interfaces"])
    _add_mac_set(model, own, sets)
    rules = _rules(model, own, crossing, sets)
    rules += _extra_rules(options.get("extra", ()), sets)
    order = {chain: index for index, chain in enumerate(CHAINS)}
    rules.sort(key=lambda rule: order[rule.chain])
    errors = site_model.Problems()
    _check_shadowing(host, rules, sets, errors)
    if errors:
        raise FirewallPolicyError(errors)
    return {
        "site": model.get("name", "site"),
        "host": host,
        "router": options["router"],
        "input_policy": options["input_policy"],
        "management_ports": sorted(set(options["management_ports"])),
        "log_drops": bool(options["log_drops"]),
        "mpcpu_interfaces": options["mpcpu_interfaces"],
        "shared_networks": [n["cidr"] for n in shared_networks(model)],
        "sets": sets,
        "rules": rules,
    }


def build_host_policy(
    model,
    host,
    input_policy="accept",
    management_ports=DEFAULT_MANAGEMENT_PORTS,
    log_drops=False,
    *,
    interface_addresses=None,
):
    """The rules of ``host`` in the compiled site model; FirewallPolicyError lists every problem
    with the options or the host.

    ``interface_addresses`` ([{device, address}], as the ``interface_addresses`` filter reads
    them from the host) names the MPCPU-facing interfaces, where IPv6 is closed."""
    errors = site_model.Problems()
    _check_options(input_policy, management_ports, errors)
    _check_interface_addresses(interface_addresses, errors)
    view = _view(model, host, errors)
    if view is not None and view["kind"] == appendix_d.DEVICE_GROUP:
        errors.add(
            host,
            "groups",
            "plays no part of the site: it is in no PC-part group with a row in use and not "
            "in %s" % appendix_d.ROUTER_GROUP,
        )
    if errors:
        raise FirewallPolicyError(errors)
    return _assemble(
        model,
        host,
        _own_share(view["flows"]),
        _crossing_share(view["crossing"]),
        extra=extra_share(model, view),
        router=view["router"],
        input_policy=input_policy,
        management_ports=management_ports,
        log_drops=log_drops,
        mpcpu_interfaces=_mpcpu_interfaces(model, interface_addresses),
    )


def build_site_router_policy(model, management_ports=DEFAULT_MANAGEMENT_PORTS):
    """The forward rules of one router joining every network: the network team's view.

    It forwards every flow whose two ends sit on two different networks."""
    errors = site_model.Problems()
    _check_options("accept", management_ports, errors)
    _compiled(model, errors)
    if errors:
        raise FirewallPolicyError(errors)
    crossing = [flow for flow in model["flows"] if flow["mpcpu_network"] != flow["pc_network"]]
    every_network = set(n["name"] for n in model["networks"])
    return _assemble(
        model,
        "site-router",
        {},
        _crossing_share(crossing),
        extra=[
            (FORWARD, flow)
            for flow in model.get("extra_flows") or ()
            if _crosses(flow, model, every_network)
        ],
        router=True,
        input_policy="accept",
        management_ports=management_ports,
        log_drops=False,
        mpcpu_interfaces=[],
    )


def used_sets(policy):
    """The sets the rules name, in the policy's order (renderers declare only these)."""
    names = set([MANAGEMENT, MANAGEMENT6, MPCPU_NETWORKS, ALL_MPCPUS, MPCPU_INTERFACES])
    for rule in policy["rules"]:
        names.update(name for name in (rule.src, rule.dst) if name)
        if rule.kind == DHCP_DISCOVER:
            names.add(MPCPU_MACS)
    return [address_set for name, address_set in policy["sets"].items() if name in names]


def rules_in(policy, chain, kinds=(FLOW, REPLY, EXTRA)):
    return [rule for rule in policy["rules"] if rule.chain == chain and rule.kind in kinds]


def as_data(policy):
    """The policy as plain lists and dicts (for the filter and JSON)."""
    data = dict(policy)
    data["sets"] = [dict(s._asdict()) for s in policy["sets"].values()]
    data["rules"] = [dict(r._asdict()) for r in policy["rules"]]
    return data
