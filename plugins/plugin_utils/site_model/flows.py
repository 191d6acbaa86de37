# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compilation of a validated site: the public shapes of networks and hosts, every concrete
flow, and one view per host (see ``shapes``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils._netaddr import netaddr
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import protocol


def _flow(table_row, device, pc_host, relay=None):
    """One flow; with ``relay`` ({giaddr, source}), the DHCP relay's leg as the wire shows it:
    from the relay's source address to the server, server port to port (the server answers
    the giaddr, ``relay``)."""
    on_segment = device["network"] in pc_host.get("addresses", {})
    pc_ip = pc_host["addresses"][device["network"]] if on_segment else pc_host["ip"]
    mpcpu_end = (device["ip"], table_row.mpcpu_port)
    if relay:
        mpcpu_end = (relay["source"], table_row.pc_port)
    pc_end = (pc_ip, table_row.pc_port)
    source, destination = (
        (mpcpu_end, pc_end)
        if appendix_d.initiator(table_row) == appendix_d.MPCPU
        else (pc_end, mpcpu_end)
    )
    return {
        "row": table_row.id,
        "purpose": table_row.purpose,
        "protocol": table_row.protocol,
        "application": table_row.application,
        "initiator": appendix_d.initiator(table_row),
        "mpcpu": device["name"],
        "mpcpu_ip": device["ip"],
        "mpcpu_mac": device["mac"],
        "mpcpu_port": table_row.mpcpu_port,
        "mpcpu_network": device["network"],
        "pc_host": pc_host["name"],
        "pc_ip": pc_ip,
        "pc_port": table_row.pc_port,
        "pc_network": device["network"] if on_segment else pc_host.get("network"),
        "relay": relay["giaddr"] if relay else None,
        "src": source[0],
        "src_port": source[1],
        "dst": destination[0],
        "dst_port": destination[1],
        "device_protocol": protocol.flow_settings(table_row.id, device),
    }


def _flows(table_row, device, pc_host, relays):
    """A DHCP server with no address on the MPCPU's network hears it through the network's
    relays (one leg each) and answers its unicast renewals directly."""
    flows = [_flow(table_row, device, pc_host)]
    if table_row.application == "dhcp" and device["network"] not in pc_host.get("addresses", {}):
        flows += [_flow(table_row, device, pc_host, relay) for relay in relays[device["network"]]]
    return flows


def compile_flows(rows, devices, parts, networks=()):
    """Every concrete flow: each enabled row, for each MPCPU, with each host of its PC part."""
    relays = dict((network["name"], network.get("dhcp_relays", [])) for network in networks)
    relays = collections.defaultdict(list, relays)
    return [
        flow
        for table_row in rows
        for device in devices
        for pc_host in parts.get(table_row.pc_part, ())
        for flow in _flows(table_row, device, pc_host, relays)
    ]


def _device_view(device, rows):
    return {
        "name": device["name"],
        "kind": appendix_d.DEVICE_GROUP,
        "router": False,
        "addresses": [device["ip"]],
        "networks": {device["ip"]: device["network"]},
        "parts": [],
        "rows": rows,
        "flows": [],
        "crossing": [],
        "relaying": [],
    }


def _pc_side_view(model, host, cidrs):
    part_names = [
        part for part, hosts in model["parts"].items() if any(h["name"] == host for h in hosts)
    ]
    router = next((r for r in model["routers"] if r["name"] == host), None)
    addresses = []
    for part in part_names:
        for part_host in model["parts"][part]:
            if part_host["name"] == host:
                addresses += [part_host["ip"]] + list(part_host["addresses"].values())
    if router is not None:
        addresses += router["addresses"]
    addresses = sorted(set(addresses), key=netaddr.IPAddress)
    return {
        "name": host,
        "kind": appendix_d.PC if part_names else "router",
        "router": router is not None,
        "addresses": addresses,
        "networks": dict(
            (ip, next(name for name, cidr in cidrs if netaddr.IPAddress(ip) in cidr))
            for ip in addresses
        ),
        "parts": part_names,
        "rows": [
            dict(row, side=appendix_d.PC) for row in model["rows"] if row["pc_part"] in part_names
        ],
        "flows": [],
        "crossing": [],
        "relaying": [],
    }


def host_views(model):
    """Every host's view, in one pass over the flows."""
    cidrs = [(n["name"], netaddr.IPNetwork(n["cidr"])) for n in model["networks"]]
    pc_side = set(r["name"] for r in model["routers"])
    for hosts in model["parts"].values():
        pc_side.update(host["name"] for host in hosts)
    views = dict((name, _pc_side_view(model, name, cidrs)) for name in sorted(pc_side))
    # Every MPCPU plays every row in use: one list of rows shared by all their views.
    device_rows = [dict(row, side=appendix_d.MPCPU) for row in model["rows"]]
    for device in model["mpcpus"]:
        views[device["name"]] = _device_view(device, device_rows)
    joined = [(r["name"], set(r["networks"])) for r in model["routers"]]
    relay_owners = dict((a, r["name"]) for r in model["routers"] for a in r["addresses"])
    source_networks = {}
    for flow in model["flows"]:
        # A relay's leg is the relay's and the server's: the MPCPU never sends it.
        if flow["relay"] is None:
            views[flow["mpcpu"]]["flows"].append(flow)
        elif flow["relay"] in relay_owners:
            views[relay_owners[flow["relay"]]]["relaying"].append(flow)
        views[flow["pc_host"]]["flows"].append(flow)
        far_ends = _far_ends(flow, cidrs, source_networks)
        starts = relay_owners.get(flow["relay"])
        for router, networks in joined:
            if (
                router not in (flow["pc_host"], starts)
                and flow["pc_network"] in networks
                and far_ends & networks
            ):
                views[router]["crossing"].append(flow)
    return views


def _far_ends(flow, cidrs, cache):
    """The networks across from the PC end that the flow's packets come from or go to: the
    MPCPU's; for a relay's leg also that of the address the relay sends from."""
    ends = set([flow["mpcpu_network"]])
    if flow["relay"] is not None:
        if flow["src"] not in cache:
            address = netaddr.IPAddress(flow["src"])
            cache[flow["src"]] = next((name for name, cidr in cidrs if address in cidr), None)
        ends.add(cache[flow["src"]])
    return ends - set([flow["pc_network"], None])


def empty_view(host):
    """The view of a host the site does not have: it plays nothing (a ``shapes.HostView``)."""
    return {
        "name": host,
        "kind": None,
        "router": False,
        "addresses": [],
        "networks": {},
        "parts": [],
        "rows": [],
        "flows": [],
        "crossing": [],
        "relaying": [],
    }


def host_view(model, host, missing_ok=False):
    """What ``host`` plays, worked out once when the model was built: a ``shapes.HostView``.

    A host the site does not have raises KeyError naming it, or with ``missing_ok`` gets
    ``empty_view``: a role that refuses hosts playing nothing says so in its own words.
    """
    try:
        return model["hosts"][host]
    except KeyError:
        if missing_ok:
            return empty_view(host)
        raise KeyError("%r is not a host of the MPCPU site" % (host,)) from None


def site(name, validated):
    """The model of a validated site (``build._validate``'s findings), before its flows and
    views: a ``shapes.Model``."""
    return {
        "name": name,
        "networks": [public_network(network) for network in validated["networks"]],
        "management_networks": [str(cidr) for cidr in validated["management"]],
        "rows": appendix_d.as_dicts(validated["rows"]),
        "mpcpus": validated["devices"],
        "parts": dict(
            (part, [public_part_host(host) for host in part_hosts])
            for part, part_hosts in validated["parts"].items()
        ),
        "routers": validated["routers"],
    }


def public_network(network):
    return {
        "name": network["name"],
        "cidr": str(network["cidr"]),
        "gateway": str(network["gateway"]) if network["gateway"] else None,
        "kind": network["kind"],
        "dhcp_relays": [dict(relay) for relay in network["dhcp_relays"]],
    }


def public_part_host(host):
    return {"name": host["name"], "ip": host["ip"], "addresses": dict(host["addresses"])}
