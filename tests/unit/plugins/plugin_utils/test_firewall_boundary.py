"""The boundary helpers both firewall stacks share: which side starts a flow, which side an
address is on."""

import ipaddress

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import boundary, policy

NETWORKS = [ipaddress.ip_network("198.51.100.0/26"), ipaddress.ip_network("198.51.100.64/26")]


def rule(src, dst):
    return policy.Rule(
        policy.FORWARD, policy.FLOW, "ntp", "", "udp", src, dst, 123, 123, None, None, ""
    )


def test_an_address_on_an_mpcpu_network_is_on_the_mpcpu_side():
    assert boundary.side_of("198.51.100.70", NETWORKS) == boundary.MPCPU_SIDE
    assert boundary.side_of("198.51.100.0/27", NETWORKS) == boundary.MPCPU_SIDE


def test_other_addresses_and_every_ipv6_address_are_on_the_pc_side():
    assert boundary.side_of("203.0.113.10", NETWORKS) == boundary.PC_SIDE
    assert boundary.side_of("198.51.100.0/24", NETWORKS) == boundary.PC_SIDE  # wider than both
    assert boundary.side_of("2001:db8::1", NETWORKS) == boundary.PC_SIDE


def test_a_set_across_the_boundary_is_on_both_sides():
    both = policy.AddressSet("x", policy.ADDRESSES, ["203.0.113.10", "198.51.100.10"], "")
    assert boundary.sides_of(both, NETWORKS) == [boundary.MPCPU_SIDE, boundary.PC_SIDE]


def test_the_mpcpus_start_a_rule_whose_source_is_a_set_of_mpcpus():
    assert boundary.mpcpu_starts(rule("mpcpus_ntp", "ntp_servers"))
    assert not boundary.mpcpu_answers(rule("mpcpus_ntp", "ntp_servers"))
    assert boundary.mpcpu_answers(rule("managers", boundary.ALL_MPCPUS))
    assert not boundary.mpcpu_starts(rule(None, boundary.ALL_MPCPUS))


def test_the_side_that_starts_a_row_has_the_first_port(model):
    for row in model["rows"]:
        ports = boundary.initiator_ports(row)
        if row["initiator"] == appendix_d.MPCPU:
            assert ports == (row["mpcpu_port"], row["pc_port"])
        else:
            assert ports == (row["pc_port"], row["mpcpu_port"])


def test_the_policy_names_its_mpcpu_networks_for_the_boundary(model):
    site_router = policy.build_site_router_policy(model)
    assert boundary.mpcpu_networks(site_router) == [ipaddress.ip_network("198.51.100.0/26")]
