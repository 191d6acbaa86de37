"""Other firewalls on a host, read from real ``nft -j list ruleset`` output of Debian 12 lab
hosts (foreign_rulesets/): every flow another table's base chain would drop is found, named
by table, chain and rule; what lets the flow pass is not reported; the adjustment accepts
exactly the flows found, and only in chains no other tool owns."""

import json
import pathlib

import pytest
import yaml

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import foreign, policy

HERE = pathlib.Path(__file__).resolve().parent
RULESETS = HERE / "foreign_rulesets"
SITE_FILE = HERE.parents[2] / "golden" / "firewall" / "site.yml"
SERVER_INPUT_FLOWS = ["snapshot", "ntp", "alarm_email"]
ROUTER_FORWARD_FLOWS = [
    "activity_logging",
    "easy_cpu",
    "snapshot",
    "time_firmware",
    "ntp",
    "alarm_email",
]


@pytest.fixture(scope="module")
def model():
    raw = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    return site_model.build_site(raw["site"], raw["groups"], raw["hostvars"])


def nft(name):
    return foreign.tables_from_nft(json.loads((RULESETS / ("bookworm-%s.json" % name)).read_text()))


def legacy():
    text = (RULESETS / "bookworm-legacy-iptables-save.txt").read_text()
    return foreign.tables_from_iptables_save(text)


def findings(model, host, tables, **options):
    return foreign.find(policy.build_host_policy(model, host), tables, **options)


def test_baseline_input_policy_drop_kills_every_flow_the_mpcpus_start(model):
    found = findings(model, "cctv-srv", nft("baseline"))
    assert [f.row for f in found] == SERVER_INPUT_FLOWS
    assert {(f.family, f.table, f.chain, f.handle, f.rule) for f in found} == {
        ("inet", "baseline", "input", None, "policy drop")
    }
    assert foreign.line("cctv-srv", found[0]) == (
        "cctv-srv: Snapshot (udp to port 69, input): dropped by table inet baseline, "
        "base chain input (nftables), its policy drop"
    )


def test_baseline_output_policy_accept_leaves_the_flows_the_server_starts_alone(model):
    found = findings(model, "cctv-srv", nft("baseline"))
    assert not [f for f in found if f.chain == "output"]


def test_baseline_forward_drop_kills_what_a_router_forwards(model):
    found = findings(model, "cctv-gw", nft("baseline"))
    assert [f.row for f in found if f.chain == "forward"] == ROUTER_FORWARD_FLOWS
    dhcp = [f for f in found if f.chain == "input"]
    assert [f.row for f in dhcp] == ["ip_assignment", "ip_assignment"]


def test_ufw_default_deny_is_found_through_its_chains(model):
    found = findings(model, "cctv-srv", nft("ufw"))
    assert [f.row for f in found] == SERVER_INPUT_FLOWS
    assert {(f.table, f.chain, f.owner, f.editable) for f in found} == {
        ("filter", "INPUT", "ufw", False)
    }


def test_ufw_ssh_rule_is_not_mistaken_for_a_drop(model):
    # ufw-user-input accepts tcp/22 only: the other TCP flows fall to the policy, not a rule.
    found = findings(model, "cctv-srv", nft("ufw"))
    assert all(f.rule == "policy drop" for f in found)


def test_docker_forward_drop_hits_a_router_not_a_server(model):
    assert findings(model, "cctv-srv", nft("docker")) == []
    found = findings(model, "cctv-gw", nft("docker"))
    assert [f.row for f in found] == ROUTER_FORWARD_FLOWS
    assert {(f.chain, f.owner) for f in found} == {("FORWARD", "docker")}


def test_running_firewalld_rejects_in_its_zone_chain(model):
    found = findings(model, "cctv-srv", nft("firewalld"))
    assert [f.row for f in found] == SERVER_INPUT_FLOWS
    assert {(f.chain, f.decided_in, f.verdict, f.owner) for f in found} == {
        ("filter_INPUT", "filter_IN_public", "reject", "firewalld")
    }


def test_firewalld_table_is_not_foreign_to_the_firewalld_backend(model):
    own = (foreign.OWN_TABLE, foreign.FIREWALLD_TABLE)
    assert findings(model, "cctv-srv", nft("firewalld"), own_tables=own) == []


def test_iptables_legacy_reject_rule_is_named_by_number(model):
    found = findings(model, "cctv-srv", legacy())
    snapshot = found[0]
    assert (snapshot.row, snapshot.table, snapshot.chain, snapshot.handle, snapshot.verdict) == (
        "snapshot",
        "filter",
        "INPUT",
        4,
        "reject",
    )
    assert "udp dport 69" in snapshot.rule
    assert [(f.row, f.rule) for f in found[1:]] == [
        ("ntp", "policy drop"),
        ("alarm_email", "policy drop"),
    ]


def test_our_own_table_and_chains_are_never_foreign(model):
    ruleset = json.loads((RULESETS / "bookworm-baseline.json").read_text())
    for entry in ruleset["nftables"]:
        for kind in ("table", "chain", "rule"):
            if kind in entry:
                entry[kind]["table" if kind != "table" else "name"] = "mpcpu"
    assert findings(model, "cctv-srv", foreign.tables_from_nft(ruleset)) == []


def test_an_accept_for_the_flow_before_the_drop_lets_it_pass(model):
    ruleset = json.loads((RULESETS / "bookworm-baseline.json").read_text())
    ruleset["nftables"].append(
        {
            "rule": {
                "family": "inet",
                "table": "baseline",
                "chain": "input",
                "handle": 99,
                "expr": [
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                            "right": {"prefix": {"addr": "198.51.100.0", "len": 24}},
                        }
                    },
                    {
                        "match": {
                            "op": "==",
                            "left": {"payload": {"protocol": "udp", "field": "dport"}},
                            "right": {"set": [69, 123]},
                        }
                    },
                    {"accept": None},
                ],
            }
        }
    )
    found = findings(model, "cctv-srv", foreign.tables_from_nft(ruleset))
    assert [f.row for f in found] == ["alarm_email"]


def test_the_adjustment_jump_is_not_counted_as_the_other_firewalls_accept(model):
    ruleset = json.loads((RULESETS / "bookworm-baseline.json").read_text())
    ruleset["nftables"].append(
        {"chain": {"family": "inet", "table": "baseline", "name": "mpcpu_adjust_input"}}
    )
    ruleset["nftables"].append(
        {
            "rule": {
                "family": "inet",
                "table": "baseline",
                "chain": "input",
                "expr": [{"jump": {"target": "mpcpu_adjust_input"}}],
            }
        }
    )
    ruleset["nftables"].append(
        {
            "rule": {
                "family": "inet",
                "table": "baseline",
                "chain": "mpcpu_adjust_input",
                "expr": [{"accept": None}],
            }
        }
    )
    found = findings(model, "cctv-srv", foreign.tables_from_nft(ruleset))
    assert [f.row for f in found] == SERVER_INPUT_FLOWS


def test_adjustment_accepts_exactly_the_flows_found_in_native_chains_only(model):
    host_policy = policy.build_host_policy(model, "cctv-srv")
    found = foreign.find(host_policy, nft("baseline")) + foreign.find(host_policy, nft("ufw"))
    adjusted = foreign.adjustments(host_policy, found)
    assert [entry[:3] for entry in adjusted] == [("inet", "baseline", "input")] * 3
    snapshot = adjusted[0][3]
    assert snapshot.startswith("ip saddr { 198.51.100.10, ")
    assert snapshot.endswith('udp dport 69 accept comment "megapower.mpcpu: Snapshot"')


def test_adjusted_rules_would_let_the_flows_pass(model):
    """Feeding the adjustment back as the rule first in the chain clears every finding."""
    host_policy = policy.build_host_policy(model, "cctv-srv")
    ruleset = json.loads((RULESETS / "bookworm-baseline.json").read_text())
    accept_all_mpcpus = {
        "match": {
            "op": "==",
            "left": {"payload": {"protocol": "ip", "field": "saddr"}},
            "right": {"set": host_policy["sets"][policy.ALL_MPCPUS].elements},
        }
    }
    rules = [e for e in ruleset["nftables"] if "rule" in e and e["rule"]["chain"] == "input"]
    ruleset["nftables"].insert(
        ruleset["nftables"].index(rules[0]),
        {
            "rule": {
                "family": "inet",
                "table": "baseline",
                "chain": "input",
                "expr": [accept_all_mpcpus, {"accept": None}],
            }
        },
    )
    assert foreign.find(host_policy, foreign.tables_from_nft(ruleset)) == []


def test_refusal_hint_names_the_tool_to_allow_the_flow_in(model):
    found = findings(model, "cctv-srv", nft("ufw"))
    assert "ufw allow" in foreign.hint(found[0], "adjust")
    baseline = findings(model, "cctv-srv", nft("baseline"))
    assert foreign.hint(baseline[0], "adjust") == ""
    assert "firewall_foreign_rulesets: adjust" in foreign.hint(baseline[0], "refuse")


def test_a_network_of_one_address_stands_for_itself():
    # A shared network puts each MPCPU in the network set as a /32: ipaddress gives a /32's
    # hosts as a list, not an iterator (the lab's flat site failed on it).
    single = policy.AddressSet("mpcpu_networks", policy.NETWORKS, ["198.51.100.7/32"], "")
    wide = policy.AddressSet("mpcpu_networks", policy.NETWORKS, ["198.51.100.0/24"], "")
    assert foreign._representatives(single) == ["198.51.100.7"]
    assert foreign._representatives(wide) == ["198.51.100.1"]
