# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the compiled site model and of each host's view, written once.

Every consumer (the firewall policy, services, bundle, reports, verify, the roles through the
``site_model`` and ``site_host_view`` filters) reads these keys; ``tests/unit`` checks that a
compiled model has exactly them. The model is plain dicts and lists so that Ansible can hold it
as a fact; these TypedDicts only name what is in them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Dict, List, Optional, TypedDict


class Network(TypedDict):
    """One entry of ``mpcpu_site.networks``."""

    name: str
    cidr: str  # "198.51.100.0/26"
    gateway: Optional[str]
    kind: str  # mpcpu (dedicated to MPCPUs), shared (MPCPUs among other hosts), pc or management


class Firmware(TypedDict, total=False):
    """An MPCPU's ``mpcpu_firmware`` as given, with ``path`` resolved from the inventory."""

    file: str
    version: str
    sha256: str
    path: str  # absent when a relative file has no inventory directory to resolve it in


class Device(TypedDict):
    """One MPCPU (group ``mpcpu``); the model lists them by address."""

    name: str
    ip: str
    mac: str  # lower case, colon separated
    network: str  # the name of its network
    firmware: Optional[Firmware]
    mate: Optional[str]  # the other CPU of its hot-standby pair (mpcpu_mate); None: unpaired
    hostname: Optional[str]  # the DHCP host name (option 12); None: the reservation has none
    protocol: Dict[str, object]  # its device-side settings (site_model.protocol.DEFAULTS' keys)


class PartHost(TypedDict):
    """A host playing the PC side of a row (one PC-part group), at its service address."""

    name: str
    ip: str


class Router(TypedDict):
    """A host of group ``mpcpu_routers``."""

    name: str
    addresses: List[str]  # one on each network it joins
    networks: List[str]  # the names of those networks, sorted
    platform: Optional[str]  # an appliance rendered for review (mpcpu_router_platform), or None


class Row(TypedDict):
    """An Appendix D row in use, with the ports the site programmed (``appendix_d.as_dicts``)."""

    id: str
    purpose: str
    protocol: str  # tcp or udp
    mpcpu_port: Optional[int]  # None: any
    pc_port: Optional[int]  # None: any
    listener: str  # mpcpu or pc
    initiator: str  # mpcpu or pc
    pc_part: str  # the inventory group playing the PC side
    pc_role: Optional[str]  # the role setting the PC side up (None: the firewall only)
    application: Optional[str]  # tftp, dhcp or None
    footnote: str
    description: str


class PlayedRow(Row):
    """A row as one host plays it: ``side`` is mpcpu or pc."""

    side: str


class Flow(TypedDict):
    """One concrete flow: a row in use, between one MPCPU and one host of its PC part."""

    row: str
    purpose: str
    protocol: str
    application: Optional[str]
    initiator: str
    mpcpu: str
    mpcpu_ip: str
    mpcpu_mac: str
    mpcpu_port: Optional[int]
    mpcpu_network: str
    pc_host: str
    pc_ip: str
    pc_port: Optional[int]
    pc_network: str
    src: str
    src_port: Optional[int]
    dst: str
    dst_port: Optional[int]


class HostView(TypedDict):
    """What one host plays, worked out once (``host_view``)."""

    name: str
    kind: Optional[str]  # mpcpu, pc or router; None for a host the site does not have
    router: bool  # whether it is in mpcpu_routers
    addresses: List[str]
    networks: Dict[str, str]  # address to network name
    parts: List[str]  # the PC-part groups it plays
    rows: List[PlayedRow]
    flows: List[Flow]  # its own flows
    crossing: List[Flow]  # a router's: flows between two networks it joins, PC end elsewhere


ExtraFlow = TypedDict(
    "ExtraFlow",
    {
        "name": str,
        "protocol": object,  # tcp, udp, icmp, vrrp, or another IP protocol's number
        "port": Optional[int],  # the destination port of a tcp or udp flow, else None
        "from": List[str],  # the names (or addresses) as given
        "to": List[str],
        "src": List[str],  # the source ends as IPv4 CIDRs
        "dst": List[str],  # the destination ends; a vrrp flow's include 224.0.0.18/32
    },
)
ExtraFlow.__doc__ = """A flow the site needs beside Appendix D (``mpcpu_site.extra_flows``)."""


class Model(TypedDict, total=False):
    """The compiled site. ``flows`` and ``hosts`` are absent when built with
    ``compile_flows=False`` (a check and the port matrix need neither); ``warnings`` is set by
    ``assess_site`` (the ``site_model`` filter), not by ``build_site``."""

    name: str
    networks: List[Network]
    management_networks: List[str]  # IPv4 or IPv6 CIDRs
    rows: List[Row]
    mpcpus: List[Device]
    parts: Dict[str, List[PartHost]]  # PC-part group to its hosts
    routers: List[Router]
    extra_flows: List[ExtraFlow]  # the site's own flows beside Appendix D
    flows: List[Flow]
    hosts: Dict[str, HostView]  # host name to its view
    warnings: List[str]  # what the site allows but probably does not mean (site_warnings)
