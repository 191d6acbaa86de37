# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's share of the Appendix D flows, as target-neutral rules over named address sets.

The compiled site model lists every concrete flow (each row, for each MPCPU, with each host of
its PC part). A managed host takes part in some of them:

- as the PC side of a row (it is in the row's PC-part group): the flow enters its ``input``
  chain when the MPCPU starts it, and leaves through its ``output`` chain when the PC starts it;
- as a router between an MPCPU network and the PC's network (gateway mode): the flow crosses
  its ``forward`` chain.

Addresses live in named sets (all MPCPUs, the MPCPU networks, the management networks, the PC
hosts of each part a router forwards to), so the number of rules depends on the rows in use,
never on the number of devices. Every problem is collected and raised before any target
renders, so bad input never reaches a host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

INPUT = "input"
OUTPUT = "output"
FORWARD = "forward"
CHAINS = (INPUT, OUTPUT, FORWARD)

# What a rule is for: a flow of the table, the reply a stateful firewall cannot see coming
# (DHCP answers a broadcast), or the broadcast of an MPCPU that has no address yet.
FLOW = "flow"
REPLY = "reply"
DHCP_DISCOVER = "dhcp_discover"

ADDRESSES = "addresses"
NETWORKS = "networks"
MACS = "macs"

INPUT_POLICIES = ("accept", "drop")
DEFAULT_MANAGEMENT_PORTS = (22,)

ALL_MPCPUS = "mpcpus"
MPCPU_NETWORKS = "mpcpu_networks"
MANAGEMENT = "management"
MPCPU_MACS = "mpcpu_macs"

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


class FirewallPolicyError(Exception):
    """The model cannot be turned into a firewall; ``errors`` lists every problem."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(FirewallPolicyError, self).__init__(
            "cannot build the MPCPU firewall (%d problem%s):\n- %s"
            % (len(self.errors), "" if len(self.errors) == 1 else "s", "\n- ".join(self.errors))
        )


class _Errors(list):
    def add(self, where, field, message):
        self.append("%s: %s: %s" % (where, field, message))


# --- checking the input ----------------------------------------------------------------------


def _check_options(input_policy, management_ports, errors):
    if input_policy not in INPUT_POLICIES:
        errors.add(
            "options",
            "input_policy",
            "%r is not one of %s" % (input_policy, ", ".join(INPUT_POLICIES)),
        )
    if not isinstance(management_ports, (list, tuple)) or not management_ports:
        errors.add("options", "management_ports", "give at least one TCP port (SSH: 22)")
        return
    for port in management_ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            errors.add("options", "management_ports", "%r is not a port from 1 to 65535" % (port,))


def _check_management(model, errors):
    if not model.get("management_networks"):
        errors.add(
            "mpcpu_site",
            "management_networks",
            "no management network given: without one the firewall would lock the controller "
            "out; give the networks the controller manages hosts from",
        )


def _check_flows(model, errors):
    rows = {row["id"]: row for row in model.get("rows") or []}
    devices = {device["name"]: device["ip"] for device in model.get("mpcpus") or []}
    parts = model.get("parts") or {}
    members = {part: {host["name"]: host["ip"] for host in hosts} for part, hosts in parts.items()}
    for index, flow in enumerate(model.get("flows") or []):
        where = "flows[%d] (%s)" % (index, flow.get("row"))
        row = rows.get(flow.get("row"))
        if row is None:
            errors.add(where, "row", "%r is not a row in use at this site" % (flow.get("row"),))
            continue
        if devices.get(flow.get("mpcpu")) != flow.get("mpcpu_ip"):
            errors.add(
                where,
                "mpcpu",
                "%r (%s) is not an MPCPU of the site" % (flow.get("mpcpu"), flow.get("mpcpu_ip")),
            )
        hosts = members.get(row["pc_part"], {})
        if hosts.get(flow.get("pc_host")) != flow.get("pc_ip"):
            errors.add(
                where,
                "pc_host",
                "flow to unknown host %r (%s): it is not a host of %s"
                % (flow.get("pc_host"), flow.get("pc_ip"), row["pc_part"]),
            )


# --- address sets ----------------------------------------------------------------------------


def _sorted_addresses(addresses):
    return [str(a) for a in sorted(set(ipaddress.ip_address(text) for text in addresses))]


def _sorted_networks(cidrs):
    return [str(n) for n in sorted(set(ipaddress.ip_network(text) for text in cidrs))]


class _SetTable(collections.OrderedDict):
    def add(self, name, kind, elements, description):
        self[name] = AddressSet(name, kind, list(elements), description)
        return name

    def devices(self, row_id, addresses):
        """The set of MPCPUs a rule names: the shared one when it is the same."""
        elements = _sorted_addresses(addresses)
        if ALL_MPCPUS in self and self[ALL_MPCPUS].elements == elements:
            return ALL_MPCPUS
        return self.add(
            "%s_%s" % (ALL_MPCPUS, row_id), ADDRESSES, elements, "MPCPUs of row %s" % row_id
        )


def _part_set_name(part):
    return part[len("mpcpu_") :] if part.startswith("mpcpu_") else part


# --- which flows a host takes part in ---------------------------------------------------------


def _network_names(model):
    return [(n["name"], ipaddress.ip_network(n["cidr"])) for n in model["networks"]]


def _network_of(address, networks):
    ip = ipaddress.ip_address(address)
    for name, network in networks:
        if ip in network:
            return name
    return None


def _router(model, host):
    for router in model.get("routers") or []:
        if router["name"] == host:
            return router
    return None


def _crossing_flows(model, router):
    """The flows whose MPCPU and PC sit on two different networks this router joins."""
    networks = _network_names(model)
    joined = set(_network_of(address, networks) for address in router["addresses"])
    device_network = {device["name"]: device["network"] for device in model["mpcpus"]}
    pc_network = {}
    crossing = []
    for flow in model["flows"]:
        if flow["pc_host"] == router["name"]:
            continue
        if flow["pc_ip"] not in pc_network:
            pc_network[flow["pc_ip"]] = _network_of(flow["pc_ip"], networks)
        ends = (device_network[flow["mpcpu"]], pc_network[flow["pc_ip"]])
        if ends[0] != ends[1] and ends[0] in joined and ends[1] in joined:
            crossing.append(flow)
    return crossing


def _flows_by_row(flows):
    by_row = collections.OrderedDict()
    for flow in flows:
        by_row.setdefault(flow["row"], []).append(flow)
    return by_row


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


def _own_rules(row, flows, sets):
    """Rules of a host that plays the PC side of ``row``."""
    flow = flows[0]
    devices = sets.devices(row["id"], [f["mpcpu_ip"] for f in flows])
    ports = (flow["src_port"], flow["dst_port"])
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


def _forward_rules(row, flows, sets):
    """Rules of a router the flows of ``row`` cross."""
    flow = flows[0]
    devices = sets.devices(row["id"], [f["mpcpu_ip"] for f in flows])
    pc_hosts = sets.add(
        _part_set_name(row["pc_part"]),
        ADDRESSES,
        _sorted_addresses(f["pc_ip"] for f in flows),
        "hosts of %s behind this router" % row["pc_part"],
    )
    ends = (devices, pc_hosts) if row["initiator"] == appendix_d.MPCPU else (pc_hosts, devices)
    ports = (flow["src_port"], flow["dst_port"])
    return [_rule(row, FORWARD, FLOW, ends=ends, ports=ports, comment=row["purpose"])]


def _rules(model, own_flows, crossing_flows, sets):
    rows = {row["id"]: row for row in model["rows"]}
    rules = []
    for row_id, flows in _flows_by_row(own_flows).items():
        rules += _own_rules(rows[row_id], flows, sets)
    for row_id, flows in _flows_by_row(crossing_flows).items():
        rules += _forward_rules(rows[row_id], flows, sets)
    order = {chain: index for index, chain in enumerate(CHAINS)}
    return sorted(rules, key=lambda rule: order[rule.chain])


# --- shadowing ---------------------------------------------------------------------------------


def _intervals(address_set):
    """The set as sorted, merged (first, last) integer ranges."""
    if address_set.kind == NETWORKS:
        spans = [ipaddress.ip_network(e) for e in address_set.elements]
        ranges = sorted((int(n.network_address), int(n.broadcast_address)) for n in spans)
    else:
        ranges = [(int(ipaddress.ip_address(e)),) * 2 for e in address_set.elements]
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


def _base_sets(model, devices):
    sets = _SetTable()
    sets.add(
        MANAGEMENT,
        NETWORKS,
        _sorted_networks(model["management_networks"]),
        "networks the controller manages hosts from: SSH open to them, never to an MPCPU",
    )
    sets.add(
        MPCPU_NETWORKS,
        NETWORKS,
        _sorted_networks(n["cidr"] for n in model["networks"] if n["kind"] == "mpcpu"),
        "networks of kind mpcpu: what comes from or goes to them is MPCPU traffic",
    )
    sets.add(ALL_MPCPUS, ADDRESSES, _sorted_addresses(devices), "every MPCPU this host talks to")
    return sets


def _add_mac_set(model, own_flows, sets):
    dhcp_devices = set(f["mpcpu"] for f in own_flows if f["application"] == "dhcp")
    if dhcp_devices:
        macs = sorted(d["mac"] for d in model["mpcpus"] if d["name"] in dhcp_devices)
        sets.add(MPCPU_MACS, MACS, macs, "MPCPU MACs: DHCP broadcasts come from no address")


def build_host_policy(
    model,
    host,
    input_policy="accept",
    management_ports=DEFAULT_MANAGEMENT_PORTS,
    log_drops=False,
):
    """The rules of ``host``; FirewallPolicyError lists every problem with model or options."""
    errors = _Errors()
    _check_options(input_policy, management_ports, errors)
    _check_management(model, errors)
    _check_flows(model, errors)
    if errors:
        raise FirewallPolicyError(errors)
    own_flows = [flow for flow in model["flows"] if flow["pc_host"] == host]
    router = _router(model, host)
    crossing = _crossing_flows(model, router) if router else []
    if not own_flows and router is None:
        raise FirewallPolicyError(
            [
                "%s: groups: plays no part of the site: it is in no PC-part group with a row in "
                "use and not in %s" % (host, appendix_d.ROUTER_GROUP)
            ]
        )
    sets = _base_sets(model, [f["mpcpu_ip"] for f in own_flows + crossing])
    _add_mac_set(model, own_flows, sets)
    rules = _rules(model, own_flows, crossing, sets)
    _check_shadowing(host, rules, sets, errors)
    if errors:
        raise FirewallPolicyError(errors)
    return {
        "site": model.get("name", "site"),
        "host": host,
        "router": router is not None,
        "input_policy": input_policy,
        "management_ports": sorted(set(management_ports)),
        "log_drops": bool(log_drops),
        "sets": sets,
        "rules": rules,
    }


def build_site_router_policy(model, management_ports=DEFAULT_MANAGEMENT_PORTS):
    """The forward rules of one router joining every network: the network team's view."""
    every_address = []
    for network in model.get("networks") or []:
        every_address.append(str(next(ipaddress.ip_network(network["cidr"]).hosts())))
    routers = [{"name": "site-router", "addresses": every_address}]
    return build_host_policy(
        dict(model, routers=routers), "site-router", management_ports=management_ports
    )


def used_sets(policy):
    """The sets the rules name, in the policy's order (renderers declare only these)."""
    names = set([MANAGEMENT, MPCPU_NETWORKS, ALL_MPCPUS])
    for rule in policy["rules"]:
        names.update(name for name in (rule.src, rule.dst) if name)
        if rule.kind == DHCP_DISCOVER:
            names.add(MPCPU_MACS)
    return [address_set for name, address_set in policy["sets"].items() if name in names]


def rules_in(policy, chain, kinds=(FLOW, REPLY)):
    return [rule for rule in policy["rules"] if rule.chain == chain and rule.kind in kinds]


def as_data(policy):
    """The policy as plain lists and dicts (for the filter and JSON)."""
    data = dict(policy)
    data["sets"] = [dict(s._asdict()) for s in policy["sets"].values()]
    data["rules"] = [dict(r._asdict()) for r in policy["rules"]]
    return data
