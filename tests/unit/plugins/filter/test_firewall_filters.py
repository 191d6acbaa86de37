"""The firewall filters: what the role calls, and the errors an operator sees."""

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.filter import firewall
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model

GOLDEN = pathlib.Path(__file__).resolve().parents[3] / "golden" / "firewall"


@pytest.fixture
def model():
    with (GOLDEN / "site.yml").open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return site_model.build_site(raw["site"], raw["groups"], raw["hostvars"])


def test_every_filter_is_registered():
    assert sorted(firewall.FilterModule().filters()) == [
        "firewall_export_files",
        "firewall_files",
        "firewall_policy",
        "firewall_ruleset",
        "firewall_site_router_acl",
    ]


def test_ruleset_is_the_golden_nftables_file(model):
    expected = (GOLDEN / "cctv-srv" / "nftables" / "mpcpu.nft").read_text(encoding="utf-8")
    assert firewall.firewall_ruleset(model, "cctv-srv") == expected


def test_ruleset_passes_options_through(model):
    expected = (GOLDEN / "cctv-srv.drop" / "iptables" / "mpcpu.rules").read_text(encoding="utf-8")
    assert firewall.firewall_ruleset(model, "cctv-srv", "iptables", input_policy="drop") == expected


def test_site_router_acl_is_the_golden_file(model):
    expected = (GOLDEN / "site-router" / "cisco_ios" / "mpcpu-acl.ios").read_text(encoding="utf-8")
    assert firewall.firewall_site_router_acl(model) == expected


def test_policy_is_plain_data(model):
    data = firewall.firewall_policy(model, "cctv-srv")
    assert data["sets"][2]["name"] == "mpcpus"
    assert data["rules"][0]["row"] == "snapshot" and data["rules"][0]["helper"] == "tftp"


def test_bad_input_is_an_ansible_error_listing_every_problem(model):
    with pytest.raises(AnsibleFilterError) as caught:
        firewall.firewall_ruleset(model, "ghost", input_policy="reject")
    message = str(caught.value)
    assert "cannot build the MPCPU firewall (2 problems)" in message
    assert "'reject' is not one of accept, drop" in message
    assert "ghost: groups: is not a host of the MPCPU site" in message


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda m: firewall.firewall_ruleset(m, "cctv-srv", "firewalld"), "no single ruleset"),
        (lambda m: firewall.firewall_files(m, "cctv-srv", "pf"), "unknown firewall target 'pf'"),
        (lambda m: firewall.firewall_files(m, "cctv-srv", "cisco_ios"), "no Appendix D flow"),
        (lambda m: firewall.firewall_ruleset(m, "cctv-srv", colour="red"), "firewall options"),
    ],
)
def test_misuse_is_an_ansible_error(model, call, expected):
    with pytest.raises(AnsibleFilterError, match=expected):
        call(model)


def test_export_files_are_keyed_by_target(model):
    files = firewall.firewall_export_files(model, "cctv-gw", ["nftables", "cisco_ios"])
    assert sorted(files) == ["cisco_ios/mpcpu-acl.ios", "nftables/mpcpu.nft"]
    expected = (GOLDEN / "cctv-gw" / "cisco_ios" / "mpcpu-acl.ios").read_text(encoding="utf-8")
    assert files["cisco_ios/mpcpu-acl.ios"] == expected


def test_site_router_acl_of_a_flat_site_is_an_ios_comment_saying_nothing_crosses():
    site = {
        "name": "flat",
        "networks": [{"name": "cctv", "cidr": "198.51.100.0/26", "kind": "shared"}],
        "management_networks": ["198.51.100.0/28"],
    }
    groups = {"mpcpu": ["mpcpu-a"], "mpcpu_log_collectors": ["server"]}
    hostvars = {
        "mpcpu-a": {"mpcpu_ip": "198.51.100.10", "mpcpu_mac": "02:00:00:00:00:0a"},
        "server": {"ansible_host": "198.51.100.5"},
    }
    model = site_model.build_site(dict(site, rows=["activity_logging"]), groups, hostvars)
    text = firewall.firewall_site_router_acl(model)
    assert (
        text == "! No Appendix D flow of this site crosses between networks: nothing to filter.\n"
    )
