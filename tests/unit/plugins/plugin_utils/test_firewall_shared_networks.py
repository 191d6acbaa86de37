"""Networks of kind shared (MPCPUs among other hosts): every target matches the MPCPUs by
address and leaves the other hosts alone; golden files for a flat site and a shared VLAN."""

import os
import pathlib

import pytest
import yaml

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    aerleon_export,
    policy,
    targets,
)

GOLDEN = pathlib.Path(__file__).resolve().parents[3] / "golden" / "firewall-shared"
# (site, host, target)
CASES = [
    ("flat", "flat-srv", "nftables"),
    ("flat", "flat-srv", "iptables"),
    ("flat", "flat-srv", "firewalld"),
    ("vlan", "cctv-gw", "nftables"),
    ("vlan", "cctv-gw", "iptables"),
    ("vlan", "cctv-gw", "firewalld"),
    ("vlan", "cctv-gw", "cisco_ios"),
]


def _sites():
    with (GOLDEN / "site.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def sites():
    return _sites()


def _model(sites, name):
    raw = sites[name]
    return site_model.build_site(raw["site"], raw["groups"], raw["hostvars"])


def _policy(sites, name, host):
    interfaces = sites[name]["interfaces"].get(host)
    return policy.build_host_policy(_model(sites, name), host, interface_addresses=interfaces)


def _check_golden(relative, text):
    path = GOLDEN / relative
    if os.environ.get("MPCPU_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, (
        "golden file %s differs (MPCPU_UPDATE_GOLDEN=1 to accept)" % relative
    )


@pytest.mark.parametrize(("site", "host", "target"), CASES)
def test_rendering_matches_golden_files(sites, site, host, target):
    files = targets.target(target).render(_policy(sites, site, host))
    golden_dir = GOLDEN / site / host / target
    if not os.environ.get("MPCPU_UPDATE_GOLDEN"):
        on_disk = sorted(str(p.relative_to(golden_dir)) for p in golden_dir.rglob("*.*"))
        assert on_disk == sorted(files)
    for name, text in files.items():
        _check_golden("%s/%s/%s/%s" % (site, host, target, name), text)


def test_on_a_shared_network_the_mpcpu_set_holds_the_mpcpus_not_the_network(sites):
    host_policy = _policy(sites, "flat", "flat-srv")
    assert host_policy["sets"][policy.MPCPU_NETWORKS].elements == [
        "198.51.100.10/32",
        "198.51.100.11/32",
    ]
    assert host_policy["shared_networks"] == ["198.51.100.0/24"]


def test_the_interface_on_a_shared_network_keeps_ipv6(sites):
    host_policy = _policy(sites, "flat", "flat-srv")
    assert host_policy["mpcpu_interfaces"] == []
    nft = targets.target("nftables").render(host_policy)["mpcpu.nft"]
    assert "ipv6_from_mpcpu_networks" not in nft and "nfproto ipv6" not in nft


def test_a_dedicated_network_is_still_matched_whole(sites):
    raw = sites["vlan"]
    site = dict(raw["site"], networks=[dict(raw["site"]["networks"][0], kind="mpcpu")])
    site["networks"].append(raw["site"]["networks"][1])
    model = site_model.build_site(site, raw["groups"], raw["hostvars"])
    host_policy = policy.build_host_policy(
        model, "cctv-gw", interface_addresses=raw["interfaces"]["cctv-gw"]
    )
    assert host_policy["sets"][policy.MPCPU_NETWORKS].elements == ["198.51.100.0/25"]
    assert host_policy["mpcpu_interfaces"] == ["eth1"]
    ios = targets.target("cisco_ios").render(host_policy)["mpcpu-acl.ios"]
    assert ios.count(" deny ip any any log") == 2 and "permit ip any any" not in ios


def test_the_appliance_filters_deny_only_what_the_mpcpus_send_or_receive(sites):
    host_policy = policy.build_site_router_policy(_model(sites, "vlan"))
    for platform in ("cisco", "juniper", "paloalto"):
        for acl in aerleon_export.platform_filters(host_policy, platform):
            deny, others = acl["terms"][-2:]
            assert deny["action"] == "deny"
            assert aerleon_export.network_token(policy.MPCPU_NETWORKS) in (
                deny.get("source-address"),
                deny.get("destination-address"),
            )
            assert others["action"] == "accept" and "source-address" not in others
    networks = aerleon_export.definitions(host_policy)["networks"]
    token = aerleon_export.network_token(policy.MPCPU_NETWORKS)
    assert [v["address"] for v in networks[token]["values"]] == [
        "198.51.100.10/32",
        "198.51.100.11/32",
    ]
