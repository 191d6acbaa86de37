# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boundary of the MPCPU site: which side starts a flow, and which side an address is on.

Both firewall stacks read it: the host renderers (``policy``, ``firewalld``, ``cisco_ios``) and
the appliance path through Aerleon (``aerleon_export``, ``appliance``). It knows the two address
sets every host policy names the boundary with (all MPCPUs, the MPCPU networks) and nothing
else of a policy, so it imports no other module of the firewall.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

# The address sets of a host policy that say where the boundary is. A rule's set of MPCPUs is
# ALL_MPCPUS or, when a row reaches only some of them, ALL_MPCPUS + "_<row>".
ALL_MPCPUS = "mpcpus"
MPCPU_NETWORKS = "mpcpu_networks"

# The two sides of the boundary (the appliance zones are named after them).
MPCPU_SIDE = "mpcpu"
PC_SIDE = "pc"


def initiator_ports(row):
    """(port of the side that starts, port of the side that answers) of an Appendix D row."""
    if row["initiator"] == appendix_d.MPCPU:
        return row["mpcpu_port"], row["pc_port"]
    return row["pc_port"], row["mpcpu_port"]


def mpcpu_starts(rule):
    """Whether the MPCPUs start the flows of ``rule`` (its source is a set of MPCPUs)."""
    return bool(rule.src) and rule.src.startswith(ALL_MPCPUS)


def mpcpu_answers(rule):
    """Whether the MPCPUs answer the flows of ``rule`` (its destination is a set of MPCPUs)."""
    return bool(rule.dst) and rule.dst.startswith(ALL_MPCPUS)


def mpcpu_networks(host_policy):
    """The MPCPU networks of a host policy, as ``ipaddress`` networks."""
    return [ipaddress.ip_network(cidr) for cidr in host_policy["sets"][MPCPU_NETWORKS].elements]


def on_mpcpu_network(address, networks):
    """Whether ``address`` (an address or a network) lies inside one of ``networks``; IPv6
    never does: MPCPU networks are IPv4, an IPv6 management network is on the PC side."""
    ip = ipaddress.ip_network(address, strict=False)
    return any(ip.version == net.version and ip.subnet_of(net) for net in networks)


def side_of(address, networks):
    """MPCPU_SIDE when ``address`` is on one of the MPCPU ``networks``, PC_SIDE otherwise."""
    return MPCPU_SIDE if on_mpcpu_network(address, networks) else PC_SIDE


def sides_of(address_set, networks):
    """The sorted sides the addresses of ``address_set`` sit on (one or both)."""
    return sorted(set(side_of(element, networks) for element in address_set.elements))
