# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Other firewalls on a host: which base chain of another table would drop one of our flows.

netfilter runs every base chain hooked at a point, each to its own verdict: a packet our table
accepts is still dropped by another table's chain at the same hook (a company baseline's
``policy drop``, ufw's chains, a container engine's FORWARD). So before the role loads
anything it reads the host's whole ruleset (``nft -j list ruleset``, and
``iptables-legacy-save`` where that exists) and walks, for the first packet of each flow of the
host policy, every base chain of another table at the hooks the flow crosses, following jumps
and gotos, to the verdict that chain gives it.

The walk understands what these firewalls write: addresses, ports, protocols, interfaces,
connection state, named and anonymous sets, prefixes and ranges. A match it cannot read (an
iptables extension seen as ``xt``, a verdict map, a socket or fib lookup, a field of the packet
the flow does not fix, such as the source port of a connection the PC opens) is taken as not
matching: a rule of another firewall is counted only when it certainly applies. So an ``accept``
it cannot read leaves a chain's drop standing (a refusal the operator can look at), and a
``drop`` it cannot read is not reported.

``adjustments`` gives, for each finding in a native nftables chain, the accept rule that makes
exactly that flow pass there (inserted first in the chain by the role's loader, when the
operator chose ``firewall_foreign_rulesets: adjust``). Chains that another tool owns and
rewrites (iptables-nft tables of ufw or a container engine, iptables-legacy, firewalld) are
never edited: the finding stays a refusal that says which tool to allow the flow in.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress
import re
import shlex

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import policy as _policy

# The hooks the first packet of a flow crosses, by the chain of the host policy it is judged in.
HOOKS = {
    _policy.INPUT: ("prerouting", "input"),
    _policy.OUTPUT: ("output", "postrouting"),
    _policy.FORWARD: ("prerouting", "forward", "postrouting"),
}
IPV4_FAMILIES = ("ip", "inet")
OWN_TABLE = ("inet", "mpcpu")
FIREWALLD_TABLE = ("inet", "firewalld")
IPTABLES_TABLES = ("filter", "nat", "mangle", "raw", "security")
LEGACY_FAMILY = "iptables-legacy"
DROPPING = ("drop", "reject")
ADJUST_CHAIN_PREFIX = "mpcpu_adjust_"
# The role's own chains in another table: the adjustment chains, and the iptables backend's
# mpcpu-* chains (in iptables-nft's ``ip filter`` and ``ip raw``).
OWN_CHAIN_PREFIXES = (ADJUST_CHAIN_PREFIX, "mpcpu-")
PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1}
_MAX_DEPTH = 32
# What an unreadable match gives: neither true nor false.
UNKNOWN = None

Packet = collections.namedtuple(
    "Packet",
    ["hook", "protocol", "saddr", "daddr", "sport", "dport", "iifname", "oifname", "broadcast"],
)
Chain = collections.namedtuple("Chain", ["family", "table", "name", "hook", "policy", "rules"])
Finding = collections.namedtuple(
    "Finding",
    [
        "flow",  # the flow, as the refusal names it
        "row",  # its Appendix D row
        "family",
        "table",
        "chain",  # the base chain whose verdict drops the flow
        "decided_in",  # the chain holding the rule that drops it (the base chain or a jump's)
        "handle",  # that rule's handle (iptables-legacy: its number); None: the chain's policy
        "rule",  # the rule as text, or "policy drop"
        "verdict",  # drop or reject
        "editable",  # a native nftables chain the adjustment may insert an accept into
        "owner",  # nftables, ufw, docker, iptables, iptables-legacy or firewalld
    ],
)


# --- reading the ruleset ----------------------------------------------------------------------


def _nft_objects(ruleset):
    if isinstance(ruleset, dict):
        return ruleset.get("nftables", [])
    return ruleset or []


def tables_from_nft(ruleset):
    """{(family, table): {"chains": {name: Chain}, "sets": {name: [elements]}}} of ``nft -j``."""
    tables = collections.OrderedDict()
    for entry in _nft_objects(ruleset):
        for kind in ("chain", "set", "rule"):
            if kind in entry:
                obj = entry[kind]
                table = tables.setdefault((obj["family"], obj["table"]), {"chains": {}, "sets": {}})
                _add_object(table, kind, obj)
    return tables


def _add_object(table, kind, obj):
    if kind == "chain":
        table["chains"][obj["name"]] = Chain(
            obj["family"],
            obj["table"],
            obj["name"],
            obj.get("hook"),
            obj.get("policy", "accept"),
            [],
        )
    elif kind == "set":
        table["sets"][obj["name"]] = obj.get("elem", [])
    elif obj["chain"] in table["chains"]:
        table["chains"][obj["chain"]].rules.append((obj.get("handle"), obj.get("expr", [])))


_LEGACY_HOOKS = {
    "PREROUTING": "prerouting",
    "INPUT": "input",
    "FORWARD": "forward",
    "OUTPUT": "output",
    "POSTROUTING": "postrouting",
}


def tables_from_iptables_save(text):
    """The same shape as ``tables_from_nft`` for ``iptables-legacy-save`` output."""
    tables = collections.OrderedDict()
    table = name = None
    for line in (text or "").splitlines():
        if line.startswith("*"):
            name = line[1:].strip()
            table = tables.setdefault((LEGACY_FAMILY, name), {"chains": {}, "sets": {}})
        elif line.startswith(":") and table is not None:
            chain, verdict = line[1:].split()[:2]
            hook = _LEGACY_HOOKS.get(chain)
            policy = verdict.lower() if hook else "accept"
            table["chains"][chain] = Chain(LEGACY_FAMILY, name, chain, hook, policy, [])
        elif line.startswith("-A ") and table is not None:
            words = shlex.split(line)
            chain = table["chains"].get(words[1])
            if chain is not None:
                chain.rules.append((len(chain.rules) + 1, _iptables_rule(words[2:])))
    return tables


def _payload(protocol, field):
    return {"payload": {"protocol": protocol, "field": field}}


def _iptables_match(option, value, protocol):
    """One iptables option as an nft JSON match; None when it is not one we read."""
    if option in ("-s", "--source", "-d", "--destination"):
        return _payload("ip", "saddr" if option in ("-s", "--source") else "daddr"), value
    if option in ("-p", "--protocol"):
        return {"meta": {"key": "l4proto"}}, value
    if option in ("-i", "--in-interface", "-o", "--out-interface"):
        key = "iifname" if option.startswith(("-i", "--in")) else "oifname"
        return {"meta": {"key": key}}, value
    if option in ("--dport", "--destination-port", "--sport", "--source-port") and protocol:
        field = "dport" if option.startswith(("--dport", "--destination")) else "sport"
        low, _colon, high = value.partition(":")
        right = {"range": [int(low), int(high)]} if high else int(low)
        return _payload(protocol, field), right
    if option in ("--ctstate", "--state"):
        return {"ct": {"key": "state"}}, {"set": value.lower().split(",")}
    return None


_IPTABLES_PLAIN = frozenset(("-m", "--match", "--comment", "--reject-with", "--log-prefix"))


def _iptables_rule(words):
    """An ``-A`` rule's words (after the chain) as an nft JSON expression list."""
    expr, protocol, negate, index = [], None, False, 0
    while index < len(words):
        word = words[index]
        value = words[index + 1] if index + 1 < len(words) else ""
        index += 2
        if word == "!":
            negate, index = True, index - 1
            continue
        if word in ("-j", "--jump", "-g", "--goto"):
            expr.append(_iptables_target(word, value))
        elif word in ("-p", "--protocol"):
            protocol = value
        if word in _IPTABLES_PLAIN or word in ("-j", "--jump", "-g", "--goto"):
            negate = False
            continue
        match = _iptables_match(word, value, protocol)
        if match is None:
            expr.append({"xt": {"type": "match", "name": word.lstrip("-")}})
        else:
            op = "!=" if negate else "=="
            expr.append({"match": {"op": op, "left": match[0], "right": match[1]}})
        negate = False
    return expr


def _iptables_target(word, target):
    verdicts = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "reject", "RETURN": "return"}
    if target in verdicts:
        return {verdicts[target]: None}
    if target.isupper() and not target.startswith(("DOCKER", "KUBE")):
        return {"xt": {"type": "target", "name": target}}
    return {("goto" if word in ("-g", "--goto") else "jump"): {"target": target}}


# --- the packets of our flows ----------------------------------------------------------------


def _representatives(address_set):
    """An address of each element of a set: a network stands for its first host."""
    if address_set.kind == _policy.NETWORKS:
        addresses = []
        for cidr in address_set.elements:
            network = ipaddress.ip_network(cidr)
            addresses.append(str(next(iter(network.hosts()), network.network_address)))
        return addresses
    if address_set.kind == _policy.ADDRESSES:
        return list(address_set.elements)
    return [None]


def _ends(rule, sets):
    if rule.kind == _policy.DHCP_DISCOVER:
        return ["0.0.0.0"], ["255.255.255.255"]
    return [_representatives(sets[name]) if name else [None] for name in (rule.src, rule.dst)]


def packets(host_policy, rule):
    """The first packet of ``rule``'s flow at each hook, for each address of its sets."""
    interface = (host_policy.get("mpcpu_interfaces") or [None])[0]
    iifname = interface if rule.chain in (_policy.INPUT, _policy.FORWARD) else None
    oifname = interface if rule.chain == _policy.OUTPUT else None
    sources, destinations = _ends(rule, host_policy["sets"])
    for hook in HOOKS[rule.chain]:
        for saddr in sources:
            for daddr in destinations:
                yield Packet(
                    hook,
                    rule.protocol,
                    saddr,
                    daddr,
                    rule.src_port,
                    rule.dst_port,
                    iifname if hook != "postrouting" else None,
                    oifname if hook != "prerouting" else None,
                    rule.kind == _policy.DHCP_DISCOVER,
                )


# --- matching one packet ----------------------------------------------------------------------


def _payload_field(packet, protocol, field):
    if protocol == "ip":
        known = {"saddr": packet.saddr, "daddr": packet.daddr, "protocol": packet.protocol}
        return known.get(field, UNKNOWN)
    if protocol in ("tcp", "udp", "th"):
        if protocol not in ("th", packet.protocol):
            return False
        return {"sport": packet.sport, "dport": packet.dport}.get(field, UNKNOWN)
    return False if protocol in ("ip6", "icmp", "icmpv6", "arp") else UNKNOWN


def _meta_field(packet, key):
    return {
        "l4proto": packet.protocol,
        "nfproto": "ipv4",
        "protocol": "ip",
        "iifname": packet.iifname,
        "oifname": packet.oifname,
        "pkttype": "broadcast" if packet.broadcast else "unicast",
    }.get(key, UNKNOWN)


# The first packet of a flow: a new connection, with no NAT status.
_CT_FIELDS = {"state": "new", "status": ""}


def _field(packet, left):
    """The packet's value of ``left``; UNKNOWN when the flow does not fix it or we cannot read
    it; False when the packet cannot have it (a TCP port of a UDP packet, an IPv6 address)."""
    if "payload" in left:
        return _payload_field(packet, left["payload"].get("protocol"), left["payload"].get("field"))
    if "meta" in left:
        return _meta_field(packet, left["meta"].get("key"))
    if "ct" in left:
        return _CT_FIELDS.get(left["ct"].get("key"), UNKNOWN)
    return UNKNOWN


def _equal_to_structure(value, candidate):
    if "prefix" in candidate:
        network = "%s/%s" % (candidate["prefix"]["addr"], candidate["prefix"]["len"])
        return _in_network(value, network)
    if "range" in candidate:
        low, high = candidate["range"]
        return _in_range(value, low, high)
    if "elem" in candidate:
        return _scalar_equal(value, candidate["elem"].get("val"))
    return UNKNOWN


def _scalar_equal(value, candidate):
    if isinstance(candidate, dict):
        return _equal_to_structure(value, candidate)
    if isinstance(candidate, str) and "/" in candidate:
        return _in_network(value, candidate)
    if isinstance(candidate, str) and candidate.endswith("*"):
        return isinstance(value, str) and value.startswith(candidate[:-1])
    if isinstance(value, str) and isinstance(candidate, int):
        return PROTOCOL_NUMBERS.get(value) == candidate
    return str(value) == str(candidate)


def _in_network(value, network):
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _in_range(value, low, high):
    try:
        if isinstance(value, int):
            return int(low) <= value <= int(high)
        number = int(ipaddress.ip_address(value))
        return int(ipaddress.ip_address(low)) <= number <= int(ipaddress.ip_address(high))
    except (TypeError, ValueError):
        return UNKNOWN


def _candidates(right, sets):
    if isinstance(right, str) and right.startswith("@"):
        return sets.get(right[1:], UNKNOWN)
    if isinstance(right, dict) and "set" in right:
        return right["set"]
    if isinstance(right, list):
        return right
    return [right]


def _matches(packet, match, sets):
    """True, False or UNKNOWN for one ``match`` expression."""
    value = _field(packet, match.get("left", {}))
    if value is UNKNOWN or value is False:
        return value
    candidates = _candidates(match.get("right"), sets)
    if candidates is UNKNOWN:
        return UNKNOWN
    results = [_scalar_equal(value, candidate) for candidate in candidates]
    found = True if True in results else (UNKNOWN if UNKNOWN in results else False)
    op = match.get("op", "==")
    if op in ("==", "in"):
        return found
    if op == "!=":
        return UNKNOWN if found is UNKNOWN else not found
    return UNKNOWN


_VERDICTS = ("accept", "drop", "reject", "return", "jump", "goto")


def _rule_verdict(packet, expr, sets):
    """The verdict statement a rule gives ``packet``, or None when the rule does not apply.

    A rule with a match we cannot read applies only when it returns: such returns are how
    these firewalls skip what is not their business (ufw's ``addrtype LOCAL`` return), while a
    drop or accept we cannot read must not decide."""
    certain = True
    for statement in expr:
        if "match" in statement:
            result = _matches(packet, statement["match"], sets)
            if result is False:
                return None
            certain = certain and result is True
        elif "xt" in statement and statement["xt"].get("type") == "match":
            certain = False
        elif "xt" in statement and statement["xt"].get("name") == "REJECT":
            return {"reject": None} if certain else None
        elif any(key in statement for key in _VERDICTS):
            return statement if certain or "return" in statement else None
        elif any(key in statement for key in ("vmap", "queue")):
            return None
    return None


def _ours(statement):
    """A jump to a chain of the role itself: not the other firewall's say."""
    for key in ("jump", "goto"):
        if key in statement and str(statement[key].get("target")).startswith(OWN_CHAIN_PREFIXES):
            return True
    return False


def _walk(packet, table, chain, depth=0):
    """(verdict, chain, handle, expr) where ``chain`` decides; verdict "return" falls through."""
    for handle, expr in chain.rules:
        statement = _rule_verdict(packet, expr, table["sets"])
        if statement is None or _ours(statement):
            continue
        verdict = next(key for key in _VERDICTS if key in statement)
        if verdict in ("jump", "goto"):
            target = table["chains"].get(statement[verdict].get("target"))
            if target is None or depth >= _MAX_DEPTH:
                continue
            result = _walk(packet, table, target, depth + 1)
            if result[0] != "return":
                return result
            if verdict == "goto":
                return result
            continue
        return verdict, chain, handle, expr
    return "return", chain, None, None


def chain_verdict(packet, table, chain):
    """(verdict, deciding chain, rule handle or None for the policy, rule expr) of a base chain."""
    verdict, decider, handle, expr = _walk(packet, table, chain)
    if verdict == "return":
        return chain.policy, chain, None, None
    return verdict, decider, handle, expr


# --- findings ----------------------------------------------------------------------------------


def _owner(family, table_name, chain_names):
    if family == LEGACY_FAMILY:
        return "iptables-legacy"
    if (family, table_name) == FIREWALLD_TABLE:
        return "firewalld"
    if family in ("ip", "ip6") and table_name in IPTABLES_TABLES:
        if any(name.startswith("ufw") for name in chain_names):
            return "ufw"
        if any(name.startswith("DOCKER") for name in chain_names):
            return "docker"
        return "iptables"
    return "nftables"


def _base_chains(tables, own_tables):
    for (family, table_name), table in tables.items():
        if (family, table_name) in own_tables:
            continue
        if family not in IPV4_FAMILIES and family != LEGACY_FAMILY:
            continue
        for chain in table["chains"].values():
            if chain.hook and not chain.name.startswith(OWN_CHAIN_PREFIXES):
                yield table, chain


def flow_name(rule):
    return "%s (%s)" % (rule.comment, _describe_flow(rule))


def _describe_flow(rule):
    parts = [rule.protocol]
    if rule.src_port is not None:
        parts.append("from port %d" % rule.src_port)
    if rule.dst_port is not None:
        parts.append("to port %d" % rule.dst_port)
    return "%s, %s" % (" ".join(parts), rule.chain)


def find(host_policy, tables, own_tables=(OWN_TABLE,)):
    """Every (flow, base chain) of another table whose verdict drops or rejects the flow."""
    findings = []
    chains = list(_base_chains(tables, set(own_tables)))
    for rule in host_policy["rules"]:
        hooks = HOOKS[rule.chain]
        for table, chain in chains:
            if chain.hook not in hooks:
                continue
            finding = _first_drop(host_policy, rule, table, chain)
            if finding:
                findings.append(finding)
    return findings


def _first_drop(host_policy, rule, table, chain):
    for packet in packets(host_policy, rule):
        if packet.hook != chain.hook:
            continue
        verdict, decider, handle, expr = chain_verdict(packet, table, chain)
        if verdict in DROPPING:
            owner = _owner(chain.family, chain.table, table["chains"])
            return Finding(
                flow=flow_name(rule),
                row=rule.row,
                family=chain.family,
                table=chain.table,
                chain=chain.name,
                decided_in=decider.name,
                handle=handle,
                rule=describe_rule(expr) if expr is not None else "policy %s" % verdict,
                verdict=verdict,
                editable=owner == "nftables",
                owner=owner,
            )
    return None


def line(host, finding):
    """One line of a refusal: the flow, the table, the chain and what in it drops the flow."""
    if finding.handle is None:
        what = "its %s" % finding.rule
    else:
        what = "rule %s in chain %s: %s" % (finding.handle, finding.decided_in, finding.rule)
    return "%s: %s: dropped by table %s %s, base chain %s (%s), %s" % (
        host,
        finding.flow,
        finding.family,
        finding.table,
        finding.chain,
        finding.owner,
        what,
    )


# --- describing a rule the way nft prints it (enough to recognise it) --------------------------


def _describe_value(right):
    if isinstance(right, dict):
        if "set" in right:
            return "{ %s }" % ", ".join(_describe_value(v) for v in right["set"])
        if "prefix" in right:
            return "%s/%s" % (right["prefix"]["addr"], right["prefix"]["len"])
        if "range" in right:
            return "%s-%s" % tuple(right["range"])
        return "?"
    if isinstance(right, list):
        return "{ %s }" % ", ".join(_describe_value(v) for v in right)
    return str(right)


def _describe_left(left):
    if "payload" in left:
        return "%s %s" % (left["payload"].get("protocol"), left["payload"].get("field"))
    for key in ("meta", "ct"):
        if key in left:
            return "%s %s" % (key, left[key].get("key"))
    return "?"


def describe_rule(expr):
    words = []
    for statement in expr or []:
        if "match" in statement:
            match = statement["match"]
            op = "" if match.get("op") in ("==", "in") else match.get("op") + " "
            words.append(
                "%s %s%s" % (_describe_left(match["left"]), op, _describe_value(match["right"]))
            )
        elif "xt" in statement:
            words.append("xt %s %s" % (statement["xt"].get("type"), statement["xt"].get("name")))
        else:
            for key in ("accept", "drop", "reject", "return"):
                if key in statement:
                    words.append(key)
            for key in ("jump", "goto"):
                if key in statement:
                    words.append("%s %s" % (key, statement[key].get("target")))
    return " ".join(words)


# --- the opt-in adjustment ----------------------------------------------------------------------

_NFT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _inline(address_set):
    return "{ %s }" % ", ".join(address_set.elements)


def adjust_rule(host_policy, rule):
    """The nft rule text that accepts exactly ``rule``'s flow in another table's chain."""
    sets = host_policy["sets"]
    words = []
    if rule.kind == _policy.DHCP_DISCOVER:
        words += ["ip saddr 0.0.0.0", "ip daddr 255.255.255.255"]
        words.append("ether saddr %s" % _inline(sets[_policy.MPCPU_MACS]))
    if rule.src:
        words.append("ip saddr %s" % _inline(sets[rule.src]))
    if rule.dst:
        words.append("ip daddr %s" % _inline(sets[rule.dst]))
    if rule.src_port is not None:
        words.append("%s sport %d" % (rule.protocol, rule.src_port))
    if rule.dst_port is not None:
        words.append("%s dport %d" % (rule.protocol, rule.dst_port))
    if rule.src_port is None and rule.dst_port is None:
        words.append("meta l4proto %s" % rule.protocol)
    words.append('accept comment "megapower.mpcpu: %s"' % rule.comment.replace('"', "'"))
    return " ".join(words)


def adjustments(host_policy, findings):
    """[(family, table, chain, rule text)] that make the flows of editable findings pass."""
    by_flow = {flow_name(rule): rule for rule in host_policy["rules"]}
    lines = []
    for finding in findings:
        if not finding.editable or not _NFT_NAME.match(finding.chain + finding.table):
            continue
        entry = (
            finding.family,
            finding.table,
            finding.chain,
            adjust_rule(host_policy, by_flow[finding.flow]),
        )
        if entry not in lines:
            lines.append(entry)
    return lines


def adjust_file(adjusted):
    """The loader's adjustment list: one ``family table chain rule`` line each."""
    return "".join("%s %s %s %s\n" % entry for entry in adjusted)


def as_data(findings):
    return [dict(finding._asdict()) for finding in findings]


_HINTS = {
    "nftables": "allow the flow in that chain, or set firewall_foreign_rulesets: adjust",
    "ufw": "allow the flow in ufw (ufw allow / ufw route allow); the role never edits ufw's chains",
    "docker": "allow the flow in the DOCKER-USER chain; the role never edits the engine's chains",
    "iptables": "allow the flow in that iptables chain; the role never edits iptables' tables",
    "iptables-legacy": "allow the flow in that iptables-legacy chain, or stop that firewall",
    "firewalld": "set firewall_backend: firewalld (or auto), or stop firewalld",
}


def hint(finding, mode):
    """What the operator can do about a finding the role will not adjust."""
    if finding.owner == "nftables" and mode == "adjust":
        return ""
    return " (%s)" % _HINTS[finding.owner]
