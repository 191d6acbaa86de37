"""Networks of kind shared (MPCPUs among other hosts): every target matches the MPCPUs by
address and leaves the other hosts alone; golden files for a flat site and a shared VLAN."""

import os
import pathlib
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import reports, site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    aerleon_export,
    appliance,
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


def _in_throwaway_netns(*argv, stdin):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which(argv[0]):
        pytest.skip("needs root, unshare and %s for a throwaway network namespace" % argv[0])
    return subprocess.run(
        ["unshare", "--net", *argv], input=stdin, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("site", "host"), [("flat", "flat-srv"), ("vlan", "cctv-gw")])
def test_the_kernel_tools_accept_the_rulesets(sites, site, host):
    host_policy = _policy(sites, site, host)
    nft = targets.target("nftables").render(host_policy)["mpcpu.nft"]
    result = _in_throwaway_netns("nft", "-c", "-f", "-", stdin=nft)
    assert result.returncode == 0, result.stderr
    rules = targets.target("iptables").render(host_policy)["mpcpu.rules"]
    result = _in_throwaway_netns("iptables-restore", "--test", "--noflush", stdin=rules)
    assert result.returncode == 0, result.stderr


def test_extra_flows_go_where_the_host_is_an_end_or_between_its_networks(sites):
    rules = _policy(sites, "vlan", "cctv-gw")["rules"]
    extra = sorted((r.chain, r.row, r.protocol) for r in rules if r.kind == policy.EXTRA)
    assert extra == [
        ("forward", "nms_ping", "icmp"),
        ("forward", "nms_snmp", "udp"),
        ("input", "vrrp", "112"),
        ("output", "vrrp", "112"),
    ]
    flat = _policy(sites, "flat", "flat-srv")["rules"]
    assert [(r.chain, r.row) for r in flat if r.kind == policy.EXTRA] == [("input", "snmp_traps")]


def test_the_port_matrix_lists_the_sites_own_flows(sites):
    model = _model(sites, "vlan")
    matrix = reports.port_matrix(model)
    assert "## The site's own flows (beside Appendix D)" in matrix
    assert "| vrrp | VRRP | any | cctv-gw, cctv-gw2 (" in matrix
    assert reports.port_matrix_summary(model)[-1] == (
        "site flow nms_snmp: UDP port 161 from 203.0.113.50 to lobby-cpu, garage-cpu"
    )


def test_every_appliance_flow_check_passes_with_the_sites_own_flows(sites):
    files = appliance.render_files(_model(sites, "vlan"))
    for target in appliance.TARGETS:
        check = files["%s/flow-check.md" % target]
        assert " 0 failed.**" in check, target
        assert "| site flow | nms_snmp | udp 203.0.113.50:49152 -> 198.51.100.10:161 |" in check
