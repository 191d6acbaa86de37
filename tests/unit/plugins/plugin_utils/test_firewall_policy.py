"""Host firewall policy: each host gets exactly its flows, sets keep rules constant, bad input
is refused with every problem named."""

import copy
import pathlib

import pytest
import yaml

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options, site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    firewalld,
    iptables,
    nftables,
    policy,
)

SITE_FILE = pathlib.Path(__file__).resolve().parents[3] / "golden" / "firewall" / "site.yml"


def load_inventory():
    with SITE_FILE.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return raw["site"], raw["groups"], raw["hostvars"]


@pytest.fixture
def inventory():
    return load_inventory()


@pytest.fixture
def model(inventory):
    return site_model.build_site(*inventory)


def _rows(rules, chain):
    return [rule.row for rule in rules if rule.chain == chain and rule.kind == policy.FLOW]


def with_devices(inventory, count):
    """The golden site with ``count`` more MPCPUs in network cctv-b, grown to a /16 (no traffic
    is ever sent: the addresses only have to be valid)."""
    site, groups, hostvars = copy.deepcopy(inventory)
    site["networks"][1]["cidr"] = "198.18.0.0/16"
    site["networks"][1]["gateway"] = "198.18.0.1"
    hostvars["cctv-gw"]["mpcpu_router_addresses"][1] = "198.18.0.1"
    for name in ("b-entrance-cpu", "b-vault-cpu"):
        groups["mpcpu"].remove(name)
        del hostvars[name]
    for number in range(count):
        name = "dev-%05d" % number
        groups["mpcpu"].append(name)
        hostvars[name] = {
            "mpcpu_ip": "198.18.%d.%d" % (1 + number // 250, 2 + number % 250),
            "mpcpu_mac": "02:00:00:00:%02x:%02x" % (number // 256, number % 256),
        }
    return site, groups, hostvars


def test_pc_host_takes_mpcpu_started_flows_in_and_its_own_out(model):
    rules = policy.build_host_policy(model, "cctv-srv")["rules"]
    assert _rows(rules, policy.INPUT) == ["snapshot", "ntp", "alarm_email"]
    assert _rows(rules, policy.OUTPUT) == ["activity_logging", "easy_cpu", "time_firmware"]
    assert _rows(rules, policy.FORWARD) == []


def test_ports_follow_the_direction_and_the_site_overrides(model):
    rules = {rule.row: rule for rule in policy.build_host_policy(model, "cctv-srv")["rules"]}
    assert (rules["easy_cpu"].src, rules["easy_cpu"].dst) == (None, "mpcpus")
    assert (rules["easy_cpu"].src_port, rules["easy_cpu"].dst_port) == (None, 4002)
    assert (rules["ntp"].src, rules["ntp"].src_port, rules["ntp"].dst_port) == ("mpcpus", 123, 123)
    assert rules["snapshot"].dst_port == 69 and rules["snapshot"].src_port is None


def test_tftp_rows_attach_the_helper_in_both_directions(model):
    rules = policy.build_host_policy(model, "cctv-srv")["rules"]
    helpers = sorted((rule.row, rule.chain) for rule in rules if rule.helper == "tftp")
    assert helpers == [("snapshot", "input"), ("time_firmware", "output")]


def test_router_forwards_only_flows_crossing_it_and_serves_its_own_part(model):
    host_policy = policy.build_host_policy(model, "cctv-gw")
    rules = host_policy["rules"]
    assert _rows(rules, policy.INPUT) == ["ip_assignment"]
    assert sorted(_rows(rules, policy.FORWARD)) == sorted(
        ["activity_logging", "easy_cpu", "snapshot", "time_firmware", "ntp", "alarm_email"]
    )
    assert host_policy["sets"]["snapshot_receivers"].elements == ["203.0.113.10"]
    assert host_policy["router"] is True


def test_dhcp_broadcast_is_matched_by_mpcpu_macs_and_answered(model):
    host_policy = policy.build_host_policy(model, "cctv-gw")
    kinds = {(rule.kind, rule.chain): rule for rule in host_policy["rules"]}
    discover = kinds[(policy.DHCP_DISCOVER, policy.INPUT)]
    assert (discover.src_port, discover.dst_port) == (68, 67)
    reply = kinds[(policy.REPLY, policy.OUTPUT)]
    assert (reply.src_port, reply.dst_port, reply.dst) == (67, 68, "mpcpu_networks")
    assert len(host_policy["sets"]["mpcpu_macs"].elements) == 5


def test_rule_count_does_not_grow_with_devices(inventory):
    small = policy.build_host_policy(site_model.build_site(*with_devices(inventory, 2)), "cctv-gw")
    large = policy.build_host_policy(
        site_model.build_site(*with_devices(inventory, 2000)), "cctv-gw"
    )
    assert len(small["rules"]) == len(large["rules"])
    assert len(large["sets"]["mpcpus"].elements) == 2003


def test_sets_are_sorted_by_address_not_by_text(model):
    elements = policy.build_host_policy(model, "cctv-srv")["sets"]["mpcpus"].elements
    assert elements == [
        "198.51.100.10",
        "198.51.100.11",
        "198.51.100.12",
        "198.51.100.74",
        "198.51.100.75",
    ]


def _errors(model, host="cctv-srv", **options):
    with pytest.raises(policy.FirewallPolicyError) as caught:
        policy.build_host_policy(model, host, **options)
    return caught.value.errors


def test_a_host_not_in_the_site_is_refused_by_name(model):
    assert _errors(model, host="ghost") == [
        "ghost: groups: is not a host of the MPCPU site: it is in no group of the site's inventory"
    ]


def test_a_model_that_is_not_compiled_is_refused(inventory):
    model = site_model.build_site(*inventory, compile_flows=False)
    assert _errors(model) == [
        "site model: hosts: not a compiled site model: give the result of "
        "megapower.mpcpu.site_model"
    ]
    with pytest.raises(policy.FirewallPolicyError):
        policy.build_site_router_policy(model)


def test_the_rules_are_those_of_the_hosts_view(model):
    # The view is the one place that says what a host plays: take a row out of it and the
    # host's rules follow.
    view = model["hosts"]["cctv-gw"]
    view["crossing"] = [flow for flow in view["crossing"] if flow["row"] != "ntp"]
    forward = _rows(policy.build_host_policy(model, "cctv-gw")["rules"], policy.FORWARD)
    assert "ntp" not in forward and len(forward) == 5


def _with_device_port(model, row_id, port):
    """A model whose row ``row_id`` is programmed onto ``port`` on the MPCPU, past the site
    model (which refuses such a site): only the renderer's own check stands in the way."""
    for row in model["rows"]:
        if row["id"] == row_id:
            row["mpcpu_port"] = port
    return model


def test_rows_that_shadow_each_other_are_refused(model):
    (error,) = _errors(_with_device_port(model, "easy_cpu", 69))
    assert error.startswith(
        "cctv-srv: output chain: the rule for easy_cpu (udp, port any to port 69)"
    )
    assert "shadows the rule for time_firmware" in error


def test_shadowing_on_a_router_names_the_forward_chain(model):
    errors = _errors(_with_device_port(model, "easy_cpu", 69), host="cctv-gw")
    assert errors == [
        "cctv-gw: forward chain: the rule for easy_cpu (udp, port any to port 69) shadows the "
        "rule for time_firmware (udp, port any to port 69): the same packets match both, so the "
        "second never decides; programme different ports in mpcpu_site.port_overrides"
    ]


def test_host_playing_no_part_is_refused(model):
    (error,) = _errors(model, host="a-lobby-cpu")
    assert error.startswith("a-lobby-cpu: groups: plays no part of the site")


def test_bad_options_are_named(model):
    errors = _errors(model, input_policy="reject", management_ports=[22, 70000])
    assert errors == [
        "options: input_policy: 'reject' is not one of accept, drop",
        "options: management_ports: 70000 is not a port number from 1 to 65535",
    ]


@pytest.mark.parametrize("ports", [[], 22, None, [True]])
def test_management_ports_are_checked_as_the_site_model_checks_the_roles_option(model, ports):
    (error,) = _errors(model, management_ports=ports)
    assert error == "options: management_ports: %s" % role_options.management_ports_problem(ports)


def test_the_options_are_those_the_firewall_role_offers():
    # The role's argument spec is checked by the site model, the filter options here: one list.
    spec = role_options.role_spec("firewall")
    assert spec["firewall_input_policy"]["choices"] == list(policy.INPUT_POLICIES)
    assert spec["firewall_management_ports"]["default"] == list(policy.DEFAULT_MANAGEMENT_PORTS)


def test_site_router_policy_forwards_every_crossing_flow(model):
    site_policy = policy.build_site_router_policy(model)
    forward = _rows(site_policy["rules"], policy.FORWARD)
    # The gateway serves DHCP on each MPCPU network from its address there: none crosses.
    assert len(forward) == 6
    assert "ip_assignment" not in forward
    assert "dhcp_servers" not in site_policy["sets"]


def test_site_router_policy_takes_a_network_of_one_address(make_inventory):
    # A /32 has no "first host address" to give the site router: it joins the network anyway.
    site, groups, hostvars = make_inventory()
    site["networks"].append({"name": "srv", "cidr": "203.0.113.100/32", "kind": "pc"})
    hostvars["pc-server"]["ansible_host"] = "203.0.113.100"
    site_policy = policy.build_site_router_policy(site_model.build_site(site, groups, hostvars))
    # Seven rows, and the relay's leg of DHCP to the server.
    assert len(_rows(site_policy["rules"], policy.FORWARD)) == 8
    assert site_policy["sets"]["log_collectors"].elements == ["203.0.113.100"]


# --- IPv6 ------------------------------------------------------------------------------------

GW_INTERFACES = [
    {"device": "eth0", "address": "203.0.113.1"},
    {"device": "eth1", "address": "198.51.100.1"},
    {"device": "eth2", "address": "198.51.100.65"},
    {"device": "eth3", "address": "2001:db8:a::1"},
]


def test_the_mpcpu_facing_interfaces_are_those_with_an_address_in_an_mpcpu_network(model):
    host_policy = policy.build_host_policy(model, "cctv-gw", interface_addresses=GW_INTERFACES)
    assert host_policy["mpcpu_interfaces"] == ["eth1", "eth2"]
    assert host_policy["sets"][policy.MPCPU_INTERFACES].elements == ["eth1", "eth2"]


def test_a_host_off_the_mpcpu_networks_has_no_mpcpu_facing_interface(model):
    addresses = [{"device": "eth0", "address": "203.0.113.10"}]
    host_policy = policy.build_host_policy(model, "cctv-srv", interface_addresses=addresses)
    assert host_policy["mpcpu_interfaces"] == []
    assert policy.MPCPU_INTERFACES not in host_policy["sets"]


def test_ipv6_management_networks_get_their_own_set_and_leave_the_ipv4_one_alone(model):
    model["management_networks"] = ["203.0.113.0/28", "2001:db8:b::/64"]
    sets = policy.build_host_policy(model, "cctv-srv")["sets"]
    assert sets[policy.MANAGEMENT].elements == ["203.0.113.0/28"]
    assert sets[policy.MANAGEMENT6].elements == ["2001:db8:b::/64"]


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        ("eth0", "options: interface_addresses: give a list of {device, address}"),
        (["eth0"], "options: interface_addresses[0]: 'eth0' is not a {device, address} mapping"),
        (
            [{"device": 'eth0" accept', "address": "198.51.100.1"}],
            "options: interface_addresses[0]: 'eth0\" accept' is not an interface name",
        ),
        (
            [{"device": "eth0", "address": "198.51.100"}],
            "options: interface_addresses[0]: '198.51.100' is not an IP address",
        ),
    ],
)
def test_bad_interface_addresses_are_refused(model, addresses, expected):
    with pytest.raises(policy.FirewallPolicyError) as raised:
        policy.build_host_policy(model, "cctv-gw", interface_addresses=addresses)
    assert raised.value.errors == [expected]


# --- relayed DHCP ------------------------------------------------------------------------------


def _dhcp_rules_of(host_policy):
    return [
        (rule.chain, rule.kind, rule.src, rule.dst, rule.src_port, rule.dst_port)
        for rule in host_policy["rules"]
        if rule.row == "ip_assignment"
    ]


def test_a_server_behind_a_relay_hears_the_relay_and_answers_it_only(make_inventory):
    model = site_model.build_site(*make_inventory())
    server = policy.build_host_policy(model, "pc-server")
    assert _dhcp_rules_of(server) == [
        ("input", "flow", "mpcpus", None, 68, 67),
        ("input", "flow", "dhcp_relays", None, 67, 67),
        ("output", "reply", None, "dhcp_relays", 67, 67),
    ]
    assert server["sets"]["dhcp_relays"].elements == ["198.51.100.1"]


def test_the_router_owning_the_relay_address_relays_and_forwards_the_renewals(make_inventory):
    model = site_model.build_site(*make_inventory())
    router = policy.build_host_policy(model, "router")
    assert _dhcp_rules_of(router) == [
        ("input", "reply", "dhcp_servers", "dhcp_relays", 67, 67),
        ("input", "dhcp_discover", None, None, 68, 67),
        ("output", "flow", "dhcp_relays", "dhcp_servers", 67, 67),
        ("output", "reply", None, "mpcpu_networks", 67, 68),
        ("forward", "flow", "mpcpus", "dhcp_servers", 68, 67),
    ]
    assert router["sets"]["dhcp_servers"].elements == ["203.0.113.10"]
    assert router["sets"]["mpcpu_macs"].elements == ["02:00:00:00:00:0a", "02:00:00:00:00:0b"]


def _linux_relay_site(make_inventory):
    """The router relays as isc-dhcp-relay does: giaddr on cctv, sent from its office address."""
    site, groups, hostvars = make_inventory()
    site["networks"][0]["dhcp_relays"] = [{"giaddr": "198.51.100.1", "source": "203.0.113.1"}]
    return site_model.build_site(site, groups, hostvars)


def test_a_server_hears_a_linux_relay_at_its_source_and_answers_its_giaddr(make_inventory):
    server = policy.build_host_policy(_linux_relay_site(make_inventory), "pc-server")
    assert _dhcp_rules_of(server) == [
        ("input", "flow", "mpcpus", None, 68, 67),
        ("input", "flow", "dhcp_relays", None, 67, 67),
        ("output", "flow", None, "dhcp_relay_giaddrs", 67, 67),
    ]
    assert server["sets"]["dhcp_relays"].elements == ["203.0.113.1"]
    assert server["sets"]["dhcp_relay_giaddrs"].elements == ["198.51.100.1"]


def test_the_host_stacks_take_a_relay_from_outside_the_mpcpu_networks_in_the_input_chain(
    make_inventory,
):
    server = policy.build_host_policy(_linux_relay_site(make_inventory), "pc-server")
    ruleset = nftables.render(server)
    input_chain = ruleset.split("chain input {")[1].split("}")[0]
    relay_line = "ip saddr @dhcp_relays udp sport 67 udp dport 67 accept"
    assert relay_line in input_chain
    assert input_chain.index(relay_line) < input_chain.index("jump from_mpcpu_networks")
    restore = iptables.render(server)
    assert "-A mpcpu-input -s 203.0.113.1/32 -p udp -m udp --sport 67 --dport 67" in restore


@pytest.mark.parametrize("host", ["pc-server", "router"])
def test_firewalld_takes_the_relay_legs_in_a_policy_from_any_zone(make_inventory, host):
    # The relay's source (the server's side) and the server's answer to the giaddr fall in no
    # MPCPU zone source: a policy from ANY zone to HOST takes them, and lets the rest go on.
    host_policy = policy.build_host_policy(_linux_relay_site(make_inventory), host)
    files = firewalld.render_files(host_policy)
    relay_in = files["policies/mpcpu-relay-in.xml"]
    assert '<policy target="CONTINUE" priority="-1">' in relay_in
    assert '<ingress-zone name="ANY"/>' in relay_in and '<egress-zone name="HOST"/>' in relay_in
    legs = policy.relay_legs(host_policy, policy.INPUT)
    assert legs and relay_in.count("<accept/>") == len(legs)
    assert "mpcpu-dhcp-relay" not in files["zones/mpcpu.xml"]


def test_firewalld_without_relays_has_no_relay_policy(model):
    for host in ("cctv-gw", "cctv-srv"):
        files = firewalld.render_files(policy.build_host_policy(model, host))
        assert "policies/mpcpu-relay-in.xml" not in files


def test_a_linux_relay_sends_from_its_source_and_takes_the_answer_at_its_giaddr(make_inventory):
    router = policy.build_host_policy(_linux_relay_site(make_inventory), "router")
    assert ("output", "flow", "dhcp_relays", "dhcp_servers", 67, 67) in _dhcp_rules_of(router)
    assert ("input", "flow", "dhcp_servers", "dhcp_relay_giaddrs", 67, 67) in _dhcp_rules_of(router)
    assert router["sets"]["dhcp_relays"].elements == ["203.0.113.1"]


def test_a_router_between_a_linux_relay_and_the_server_forwards_both_ways(make_inventory):
    site, groups, hostvars = make_inventory()
    # A third-party relay on cctv that sends from its address on the office network.
    site["networks"][0]["dhcp_relays"] = [{"giaddr": "198.51.100.3", "source": "203.0.113.3"}]
    model = site_model.build_site(site, groups, hostvars)
    legs = [f for f in model["flows"] if f["relay"]]
    assert {(f["src"], f["relay"], f["dst"]) for f in legs} == {
        ("203.0.113.3", "198.51.100.3", "203.0.113.10")
    }
    router = policy.build_host_policy(model, "router")
    assert [r for r in _dhcp_rules_of(router) if r[2:4] != ("mpcpus", "dhcp_servers")] == [
        ("forward", "flow", "dhcp_relays", "dhcp_servers", 67, 67),
        ("forward", "flow", "dhcp_servers", "dhcp_relay_giaddrs", 67, 67),
    ]


def test_a_router_between_relay_and_server_forwards_the_relay_leg(make_inventory):
    site, groups, hostvars = make_inventory()
    site["networks"][0]["dhcp_relays"] = ["198.51.100.3"]  # a third-party router's giaddr
    router = policy.build_host_policy(site_model.build_site(site, groups, hostvars), "router")
    assert ("forward", "flow", "dhcp_relays", "dhcp_servers", 67, 67) in _dhcp_rules_of(router)
    assert [r for r in _dhcp_rules_of(router) if r[0] != "forward"] == []
