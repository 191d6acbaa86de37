# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's boundary as an Aerleon policy and definitions, one filter set per appliance.

Input: a host policy whose forward rules are the Appendix D flows crossing the boundary between
MPCPU networks and the PC side (``policy.build_site_router_policy``). Output: plain dicts in
Aerleon's policy and definitions formats (``policy_dict``, ``definitions``), and the same as
YAML files a network team can feed to ``aclgen`` (``export_files``). Nothing here needs Aerleon
installed; ``appliance`` renders and checks them with it.

Where each term goes: a packet that enters from an MPCPU network meets the "from MPCPU"
filter, one that leaves towards an MPCPU network the "to MPCPU" filter (ACL appliances:
applied in and out on the interfaces facing MPCPU networks; zone appliances: the zone pairs
mpcpu->pc and pc->mpcpu, mpcpu->mpcpu when a PC part lives on an MPCPU network).

What TFTP data needs: the serving side answers from a fresh port. Stateful appliances follow it
with their TFTP inspection (ASA ``inspect tftp``, SRX TFTP ALG, PAN-OS App-ID ``tftp``);
stateless ACLs (IOS, NX-OS, EOS, a JunOS filter) get the narrowest port rule there is:
unprivileged ports (1024-65535) at both ends, between the two address sets of the TFTP row only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress

import yaml

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import boundary
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import policy as _policy
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import (
    settings as site_settings,
)

POLICY_NAME = "mpcpu-boundary"
# The zones of zone appliances are the two sides of the boundary.
MPCPU_ZONE = boundary.MPCPU_SIDE
PC_ZONE = boundary.PC_SIDE
UNPRIVILEGED = "1024-65535"
NO_ADDRESS = "MPCPU_DHCP_NO_ADDRESS"
BROADCAST = "MPCPU_DHCP_BROADCAST"
TFTP_DATA = "TFTP_DATA_PORTS"

# How a target matches a flow's answer and TFTP data, and how its filters are named.
STATELESS = "stateless"
STATEFUL = "stateful"

Platform = collections.namedtuple(
    "Platform",
    [
        "name",  # Aerleon's platform (generator) name, also the bundle directory
        "label",  # what a network team calls it
        "suffix",  # the file Aerleon writes
        "state",  # STATELESS or STATEFUL
        "zones",  # True: filters are zone pairs; False: two ACLs on MPCPU-facing interfaces
        "acl_options",  # options after the ACL name in the header ("extended", "inet", "")
        "tftp",  # how TFTP data from ephemeral ports passes
        "dhcp",  # how a DHCP broadcast of an MPCPU without an address is handled
        "apply",  # how the filters are attached
        "grouping",  # how addresses are written: named groups or one entry per address
    ],
)

_ROUTER_DHCP = (
    "The broadcast of an MPCPU without an address (0.0.0.0:68 -> 255.255.255.255:67) is "
    "matched by address in the from-MPCPU filter, for the router's DHCP relay "
    "(`ip helper-address` or the platform's equivalent). The host firewalls restrict it to the "
    "MPCPUs' MAC addresses; an ACL cannot match a MAC, so here any host on the MPCPU segment "
    "may broadcast DHCP: restrict that on the switch (DHCP snooping, port security)."
)

PLATFORMS = collections.OrderedDict(
    (platform.name, platform)
    for platform in (
        Platform(
            "cisco",
            "Cisco IOS / IOS XE extended ACL",
            ".acl",
            STATELESS,
            False,
            "extended",
            "Stateless ACL: no TFTP inspection applies to it, so TFTP data passes by the "
            "narrowest port rule: UDP 1024-65535 to 1024-65535 between the MPCPUs and the hosts "
            "of the TFTP row only (terms `<row>-data`). A stateful alternative on IOS is the "
            "zone-based firewall with `match protocol tftp`.",
            _ROUTER_DHCP,
            "ip access-group MPCPU-FROM-DEVICES in / ip access-group MPCPU-TO-DEVICES out, on "
            "every interface facing an MPCPU network",
            "one entry per source x destination prefix (Aerleon's object-group mode writes "
            "IOS XR syntax, so it is not used)",
        ),
        Platform(
            "cisconx",
            "Cisco NX-OS ACL",
            ".nxacl",
            STATELESS,
            False,
            "extended",
            "Stateless ACL (NX-OS has no TFTP inspection): TFTP data passes by the narrowest "
            "port rule, UDP 1024-65535 to 1024-65535 between the MPCPUs and the hosts of the "
            "TFTP row only (terms `<row>-data`).",
            _ROUTER_DHCP,
            "ip access-group MPCPU-FROM-DEVICES in / MPCPU-TO-DEVICES out on the SVI or routed "
            "port facing each MPCPU network",
            "one entry per source x destination prefix",
        ),
        Platform(
            "arista",
            "Arista EOS ACL",
            ".eacl",
            STATELESS,
            False,
            "extended",
            "Stateless ACL (EOS has no TFTP inspection): TFTP data passes by the narrowest port "
            "rule, UDP 1024-65535 to 1024-65535 between the MPCPUs and the hosts of the TFTP "
            "row only (terms `<row>-data`).",
            _ROUTER_DHCP,
            "ip access-group MPCPU-FROM-DEVICES in / MPCPU-TO-DEVICES out on the interface "
            "facing each MPCPU network",
            "one entry per source x destination prefix",
        ),
        Platform(
            "juniper",
            "Juniper JunOS firewall filter",
            ".jcl",
            STATELESS,
            False,
            "inet",
            "Stateless firewall filter: TFTP data passes by the narrowest port rule, UDP "
            "1024-65535 to 1024-65535 between the MPCPUs and the hosts of the TFTP row only "
            "(terms `<row>-data`). On an SRX use the `srx` output, whose TFTP ALG follows the "
            "data instead.",
            _ROUTER_DHCP,
            "family inet filter input MPCPU-FROM-DEVICES / output MPCPU-TO-DEVICES on each "
            "unit facing an MPCPU network",
            "addresses listed in every term (adjacent ones summarised); no prefix-lists",
        ),
        Platform(
            "ciscoasa",
            "Cisco ASA access lists",
            ".asa",
            STATEFUL,
            False,
            "",
            "Stateful: only the first packet of each flow is in the ACL. TFTP data from the "
            "server's fresh port is opened by `inspect tftp` (in the default `global_policy`; "
            "check with `show service-policy | include tftp`). No port rule for TFTP data is "
            "written: do not remove the inspection.",
            "A broadcast to the ASA is not transit traffic, so no access-list sees it: enable "
            "`dhcprelay server <server> <pc-interface>` and `dhcprelay enable <mpcpu-interface>`.",
            "access-group MPCPU-FROM-DEVICES in interface <mpcpu-interface> / access-group "
            "MPCPU-TO-DEVICES out interface <mpcpu-interface>",
            "one access-list line per source x destination address (Aerleon writes no "
            "object-groups for the ASA)",
        ),
        Platform(
            "srx",
            "Juniper SRX security policies",
            ".srx",
            STATEFUL,
            True,
            "",
            "Stateful: replies follow the session. TFTP data from the server's fresh port is "
            "opened by the TFTP ALG (`security alg tftp`, on by default; it applies to UDP 69 "
            "unless an application says `application-protocol ignore`; check with `show "
            "security alg status`). No port rule for TFTP data is written.",
            "A broadcast to the SRX is host-inbound traffic, not a policy match: allow "
            "`host-inbound-traffic system-services dhcp` on the mpcpu zone's interfaces and "
            "configure the DHCP relay (`forwarding-options dhcp-relay`).",
            "zones `mpcpu` (interfaces facing MPCPU networks) and `pc` (the rest); rename them "
            "to the device's zones before loading",
            "global address book: one address per prefix, one address-set per group",
        ),
        Platform(
            "paloalto",
            "Palo Alto PAN-OS security rules",
            ".xml",
            STATEFUL,
            True,
            "",
            "Stateful: the TFTP rows' rules name the App-ID `tftp`, whose predicted session "
            "lets the data from the server's fresh port through; no port rule for TFTP data "
            "is written.",
            "A broadcast to the firewall is not matched by security rules: configure DHCP "
            "relay on the interface facing the MPCPU network (Network > DHCP > DHCP Relay).",
            "zones `mpcpu` and `pc` (rename them to the device's zones before loading)",
            "address objects per prefix, one address group per group",
        ),
    )
)


class ExportError(_policy.FirewallPolicyError):
    """The boundary cannot be written for a target; ``errors`` names the target and flow."""

    summary = "cannot render the MPCPU boundary for appliances"


# --- names ---------------------------------------------------------------------------------------


def network_token(set_name):
    """The Aerleon network name of one of the policy's address sets."""
    short = set_name.replace(_policy.ALL_MPCPUS, "devices", 1)
    if not short.startswith("mpcpu"):
        short = "mpcpu_" + short
    return short.upper()


def _service_token(rule, side):
    return "%s_%s_PORT" % (rule.row.upper(), side)


def _rule_ports(rule):
    """(source service, destination service) names of a request rule, None for any port."""
    src_side, dst_side = ("MPCPU", "PC") if boundary.mpcpu_starts(rule) else ("PC", "MPCPU")
    src = _service_token(rule, src_side) if rule.src_port is not None else None
    dst = _service_token(rule, dst_side) if rule.dst_port is not None else None
    return src, dst


# --- which filters see a packet ------------------------------------------------------------------


def _sides(host_policy, set_name, cache):
    if set_name not in cache:
        networks = boundary.mpcpu_networks(host_policy)
        cache[set_name] = boundary.sides_of(host_policy["sets"][set_name], networks)
    return cache[set_name]


def filter_names(platform):
    """The filters of ``platform`` as {(source side, destination side) or key: name}."""
    if platform.zones:
        return collections.OrderedDict(
            ((src, dst), "from-zone %s to-zone %s" % (src, dst))
            for src, dst in ((MPCPU_ZONE, PC_ZONE), (PC_ZONE, MPCPU_ZONE), (MPCPU_ZONE, MPCPU_ZONE))
        )
    return collections.OrderedDict((("from", "MPCPU-FROM-DEVICES"), ("to", "MPCPU-TO-DEVICES")))


def filters_for_sides(platform, src_side, dst_side):
    """Keys of the filters a packet from ``src_side`` to ``dst_side`` meets on ``platform``."""
    if platform.zones:
        return [(src_side, dst_side)]
    keys = []
    if src_side == MPCPU_ZONE:
        keys.append("from")
    if dst_side == MPCPU_ZONE:
        keys.append("to")
    return keys


# --- terms ---------------------------------------------------------------------------------------


def _term(name, rule, ends, ports, comment):
    term = collections.OrderedDict(name=name)
    term["comment"] = comment
    term["source-address"] = network_token(ends[0])
    if ports[0]:
        term["source-port"] = ports[0]
    term["destination-address"] = network_token(ends[1])
    if ports[1]:
        term["destination-port"] = ports[1]
    term["protocol"] = _protocol(rule.protocol)
    return term


def _protocol(word):
    """Aerleon names the IP protocols it knows (vrrp for 112); the host targets' numbers."""
    by_number = dict((str(n), name) for name, n in site_settings.PROTOCOL_NUMBERS.items())
    return by_number.get(word, word)


def _request_term(rule, platform):
    term = _term(
        rule.row.replace("_", "-"),
        rule,
        (rule.src, rule.dst),
        _rule_ports(rule),
        "%s: %s starts" % (rule.purpose, "the MPCPU" if boundary.mpcpu_starts(rule) else "the PC"),
    )
    if platform.name == "paloalto" and rule.application == "tftp":
        term["pan-application"] = ["tftp"]
    term["action"] = "accept"
    return term


def _reply_term(rule):
    src_port, dst_port = _rule_ports(rule)
    term = _term(
        rule.row.replace("_", "-") + "-reply",
        rule,
        (rule.dst, rule.src),
        (dst_port, src_port),
        "%s: answers (stateless)" % rule.purpose,
    )
    if rule.protocol == "tcp":
        term["option"] = ["tcp-established"]
    term["action"] = "accept"
    return term


def _data_terms(rule):
    """TFTP data between the two ends of a TFTP row, both ways, unprivileged ports only."""
    terms = []
    for suffix, ends in (("data", (rule.src, rule.dst)), ("data-back", (rule.dst, rule.src))):
        term = _term(
            "%s-%s" % (rule.row.replace("_", "-"), suffix),
            rule,
            ends,
            (TFTP_DATA, TFTP_DATA),
            "%s: TFTP data from fresh ports (stateless)" % rule.purpose,
        )
        term["action"] = "accept"
        terms.append(term)
    return terms


def _broadcast_term(rule):
    term = collections.OrderedDict(name=rule.row.replace("_", "-") + "-broadcast")
    term["comment"] = "%s: broadcast of an MPCPU without an address (by address, no MAC)" % (
        rule.purpose
    )
    term["source-address"] = NO_ADDRESS
    term["source-port"] = _service_token(rule, "MPCPU")
    term["destination-address"] = BROADCAST
    term["destination-port"] = _service_token(rule, "PC")
    term["protocol"] = rule.protocol
    term["action"] = "accept"
    return term


def _deny_term(name):
    return collections.OrderedDict(
        (("name", name), ("comment", "anything else across the boundary"), ("action", "deny"))
    )


def _shared_end_terms(key, name):
    """Beside MPCPUs on a shared network: deny what else the MPCPUs send or receive, and leave
    the other hosts there alone (they are not the MPCPU firewall's to filter)."""
    from_mpcpus = key == "from" or (isinstance(key, tuple) and key[0] == MPCPU_ZONE)
    deny = collections.OrderedDict(name=name)
    deny["comment"] = "anything else the MPCPUs send or receive"
    field = "source-address" if from_mpcpus else "destination-address"
    deny[field] = network_token(_policy.MPCPU_NETWORKS)
    deny["action"] = "deny"
    others = collections.OrderedDict(name=name.replace("deny-other", "shared-hosts"))
    others["comment"] = "hosts sharing a network with MPCPUs (kind shared): not filtered here"
    others["action"] = "accept"
    return [deny, others]


# --- checking what a target can express ----------------------------------------------------------


def _describe(rule):
    def port(value):
        return "any" if value is None else str(value)

    return "%s (%s, %s port %s -> %s port %s)" % (
        rule.row,
        rule.comment,
        rule.protocol,
        port(rule.src_port),
        rule.dst or "any",
        port(rule.dst_port),
    )


def check_expressible(host_policy, platform_names):
    """Every rule must be a forward rule between address sets; errors name target and flow."""
    errors = []
    for name in platform_names:
        if name not in PLATFORMS:
            errors.append("%s: unknown appliance target (known: %s)" % (name, ", ".join(PLATFORMS)))
            continue
        for rule in host_policy["rules"]:
            if rule.kind == _policy.DHCP_DISCOVER:
                errors.append(
                    "%s: flow %s: matches the MPCPUs' MAC addresses (set %s), which an "
                    "appliance filter cannot match; render the site boundary "
                    "(build_site_router_policy), where the DHCP broadcast is matched by "
                    "address, or keep this rule on the host firewall"
                    % (name, _describe(rule), _policy.MPCPU_MACS)
                )
            elif rule.chain != _policy.FORWARD:
                errors.append(
                    "%s: flow %s: is a rule of %s's own %s chain; appliance targets hold "
                    "only flows that cross the boundary (forward rules)"
                    % (name, _describe(rule), host_policy["host"], rule.chain)
                )
        if not _policy.rules_in(host_policy, _policy.FORWARD):
            errors.append(
                "%s: %s: no Appendix D flow crosses the boundary: nothing to render"
                % (name, host_policy["host"])
            )
    if errors:
        raise ExportError(errors)


# --- the policy ----------------------------------------------------------------------------------


def _placements(host_policy, platform, terms_by_rule):
    """{filter key: [terms]} placing each term by the sides of its two address sets."""
    cache = {}
    placed = collections.OrderedDict((key, []) for key in filter_names(platform))
    for terms in terms_by_rule:
        for term in terms:
            if term["source-address"] == NO_ADDRESS:
                placed[(MPCPU_ZONE, PC_ZONE) if platform.zones else "from"].append(term)
                continue
            src_sides = _sides(host_policy, _set_of(host_policy, term["source-address"]), cache)
            dst_sides = _sides(
                host_policy, _set_of(host_policy, term["destination-address"]), cache
            )
            keys = []
            for src in src_sides:
                for dst in dst_sides:
                    keys += [k for k in filters_for_sides(platform, src, dst) if k not in keys]
            for key in keys:
                placed[key].append(term)
    return placed


def _set_of(host_policy, token):
    for name in host_policy["sets"]:
        if network_token(name) == token:
            return name
    raise KeyError(token)


def _rule_terms(host_policy, platform):
    terms_by_rule = []
    for rule in _policy.rules_in(host_policy, _policy.FORWARD):
        terms = [_request_term(rule, platform)]
        if platform.state == STATELESS:
            terms.append(_reply_term(rule))
            if rule.helper == "tftp":
                terms += _data_terms(rule)
            if rule.application == "dhcp" and boundary.mpcpu_starts(rule):
                terms.append(_broadcast_term(rule))
        terms_by_rule.append(terms)
    return terms_by_rule


def _header(host_policy, platform, key, name):
    if platform.zones:
        options = name
    else:
        options = " ".join(word for word in (name, platform.acl_options) if word)
    comment = "MPCPU boundary of site %s (%s): Appendix D flows, generated by megapower.mpcpu" % (
        host_policy["site"],
        key if isinstance(key, str) else "%s to %s" % key,
    )
    return collections.OrderedDict((("targets", {platform.name: options}), ("comment", comment)))


def platform_filters(host_policy, platform_name):
    """The Aerleon filters (header + terms) of one target; only non-empty zone pairs."""
    platform = PLATFORMS[platform_name]
    check_expressible(host_policy, [platform_name])
    placed = _placements(host_policy, platform, _rule_terms(host_policy, platform))
    filters = []
    for key, name in filter_names(platform).items():
        if not placed[key] and platform.zones:
            continue
        deny = "deny-other" if not platform.zones else "deny-other-%s-%s" % key
        if host_policy.get("shared_networks"):
            end = _shared_end_terms(key, deny)
        else:
            end = [_deny_term(deny)]
        filters.append(
            collections.OrderedDict(
                (
                    ("header", _header(host_policy, platform, key, name)),
                    ("terms", placed[key] + end),
                )
            )
        )
    return filters


def policy_dict(host_policy, platform_names):
    """The Aerleon policy (the dict ``aerleon.api.Generate`` and the YAML file hold)."""
    check_expressible(host_policy, platform_names)
    filters = []
    for name in platform_names:
        filters += platform_filters(host_policy, name)
    return collections.OrderedDict((("filename", POLICY_NAME), ("filters", filters)))


# --- definitions ---------------------------------------------------------------------------------


def _address_names(model):
    names = collections.defaultdict(set)
    for device in model.get("mpcpus") or []:
        names[device["ip"]].add(device["name"])
    for hosts in (model.get("parts") or {}).values():
        for host in hosts:
            names[host["ip"]].add(host["name"])
    return names


def _network_values(address_set, names):
    values = []
    for element in address_set.elements:
        value = collections.OrderedDict(address=str(ipaddress.ip_network(element)))
        if names.get(element):
            value["comment"] = ", ".join(sorted(names[element]))
        values.append(value)
    return values


def definitions(host_policy, model=None):
    """Aerleon's networks and services for the policy's forward rules."""
    names = _address_names(model or {})
    rules = _policy.rules_in(host_policy, _policy.FORWARD)
    used = set()
    for rule in rules:
        used.update((rule.src, rule.dst))
    if host_policy.get("shared_networks"):
        used.add(_policy.MPCPU_NETWORKS)
    networks = collections.OrderedDict()
    for set_name, address_set in host_policy["sets"].items():
        if set_name in used:
            networks[network_token(set_name)] = collections.OrderedDict(
                (
                    ("description", address_set.description),
                    ("values", _network_values(address_set, names)),
                )
            )
    networks[NO_ADDRESS] = {"values": [{"address": "0.0.0.0/32", "comment": "DHCP client"}]}
    networks[BROADCAST] = {"values": [{"address": "255.255.255.255/32", "comment": "limited"}]}
    services = collections.OrderedDict()
    for rule in rules:
        src_token, dst_token = _rule_ports(rule)
        if src_token:
            services[src_token] = [{"port": rule.src_port, "protocol": rule.protocol}]
        if dst_token:
            services[dst_token] = [{"port": rule.dst_port, "protocol": rule.protocol}]
    services[TFTP_DATA] = [{"port": UNPRIVILEGED, "protocol": "udp"}]
    return {"networks": networks, "services": services}


# --- files ---------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _ordered(dumper, data):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items())


_Dumper.add_representer(collections.OrderedDict, _ordered)


def _plain(data):
    """Plain Python types: under Ansible, strings and numbers of the model carry tags."""
    if isinstance(data, dict):
        return collections.OrderedDict((_plain(k), _plain(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [_plain(item) for item in data]
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, int):
        return int(data)
    return str(data)


def _yaml(data, heading):
    body = yaml.dump(
        _plain(data), Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=100
    )
    return "".join("# %s\n" % line for line in heading) + "---\n" + body


def export_files(host_policy, platform_names, model=None):
    """{relative path: text}: the policy and definitions ``aclgen`` reads, under aerleon/."""
    data = policy_dict(host_policy, platform_names)
    defs = definitions(host_policy, model)
    heading = [
        "MPCPU boundary of site %s, generated by megapower.mpcpu from Appendix D."
        % host_policy["site"],
        "Render every target with Aerleon: cd aerleon && aclgen --output_directory out",
    ]
    return {
        "aerleon/policies/pol/%s.yaml" % POLICY_NAME: _yaml(
            collections.OrderedDict(filters=data["filters"]), heading
        ),
        "aerleon/def/networks.yaml": _yaml({"networks": defs["networks"]}, heading[:1]),
        "aerleon/def/services.yaml": _yaml({"services": defs["services"]}, heading[:1]),
    }
