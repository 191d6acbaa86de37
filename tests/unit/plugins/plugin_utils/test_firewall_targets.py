"""Firewall targets: golden files per target, byte-identical output, and syntax the real tools
accept (nft and iptables-restore check the files inside a throwaway network namespace)."""

import os
import pathlib
import random
import re
import shutil
import subprocess
from xml.etree import ElementTree

import pytest
import yaml

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    cisco_ios,
    policy,
    targets,
)

GOLDEN = pathlib.Path(__file__).resolve().parents[3] / "golden" / "firewall"
# (golden directory, host, target, options)
CASES = [
    ("cctv-srv", "cctv-srv", "nftables", {}),
    ("cctv-srv.drop", "cctv-srv", "nftables", {"input_policy": "drop"}),
    ("cctv-gw", "cctv-gw", "nftables", {}),
    ("cctv-srv", "cctv-srv", "iptables", {}),
    ("cctv-srv.drop", "cctv-srv", "iptables", {"input_policy": "drop"}),
    ("cctv-gw", "cctv-gw", "iptables", {}),
    ("cctv-srv", "cctv-srv", "firewalld", {}),
    ("cctv-gw", "cctv-gw", "firewalld", {}),
    ("cctv-gw", "cctv-gw", "cisco_ios", {}),
]


def load_inventory():
    with (GOLDEN / "site.yml").open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return raw["site"], raw["groups"], raw["hostvars"]


@pytest.fixture(scope="module")
def model():
    return site_model.build_site(*load_inventory())


def load_interfaces():
    with (GOLDEN / "site.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["interfaces"]


def render(model, host, target, options):
    options = dict({"interface_addresses": load_interfaces().get(host)}, **options)
    return targets.target(target).render(policy.build_host_policy(model, host, **options))


def _check_golden(relative, text):
    path = GOLDEN / relative
    if os.environ.get("MPCPU_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, (
        "golden file %s differs (MPCPU_UPDATE_GOLDEN=1 to accept)" % relative
    )


@pytest.mark.parametrize(("case", "host", "target", "options"), CASES)
def test_rendering_matches_golden_files(model, case, host, target, options):
    files = render(model, host, target, options)
    golden_dir = GOLDEN / case / target
    if not os.environ.get("MPCPU_UPDATE_GOLDEN"):
        on_disk = sorted(str(p.relative_to(golden_dir)) for p in golden_dir.rglob("*.*"))
        assert on_disk == sorted(files)
    for name, text in files.items():
        _check_golden("%s/%s/%s" % (case, target, name), text)


def test_site_router_acl_matches_golden_file(model):
    text = cisco_ios.render(policy.build_site_router_policy(model))
    _check_golden("site-router/cisco_ios/mpcpu-acl.ios", text)


def _shuffled_inventory(seed):
    site, groups, hostvars = load_inventory()
    generator = random.Random(seed)
    groups = {name: generator.sample(hosts, len(hosts)) for name, hosts in groups.items()}
    names = list(hostvars)
    generator.shuffle(names)
    return site, groups, {name: hostvars[name] for name in names}


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_same_site_in_any_order_gives_byte_identical_files(target):
    first = render(site_model.build_site(*_shuffled_inventory(1)), "cctv-gw", target, {})
    second = render(site_model.build_site(*_shuffled_inventory(2)), "cctv-gw", target, {})
    assert first == second


def _rule_lines(text):
    return [line for line in text.splitlines() if re.search(r"\b(accept|drop|jump)\b", line)]


def test_nftables_rule_count_is_the_same_for_two_and_for_many_devices(model):
    many = dict(model, mpcpus=list(model["mpcpus"]), flows=list(model["flows"]))
    template = [flow for flow in model["flows"] if flow["mpcpu"] == "b-vault-cpu"]
    for number in range(300):
        device = {"name": "dev-%d" % number, "ip": "198.51.100.%d" % (76 + number % 50)}
        device.update(network="cctv-b", mac="02:00:00:00:01:%02x" % number, firmware=None)
        many["mpcpus"].append(device)
        many["flows"] += [dict(f, mpcpu=device["name"], mpcpu_ip=device["ip"]) for f in template]
    few_rules = _rule_lines(render(model, "cctv-gw", "nftables", {})["mpcpu.nft"])
    many_rules = _rule_lines(render(many, "cctv-gw", "nftables", {})["mpcpu.nft"])
    assert many_rules == few_rules


def test_nftables_replaces_only_its_own_table_in_one_file(model):
    text = render(model, "cctv-srv", "nftables", {})["mpcpu.nft"]
    tables = re.findall(r"^(?:delete )?table (\S+ \S+)", text, flags=re.MULTILINE)
    assert tables == ["inet mpcpu", "inet mpcpu", "inet mpcpu"]
    assert "delete table inet mpcpu\n" in text and "flush ruleset" not in text


def test_nftables_attaches_the_tftp_helper_where_each_direction_needs_it(model):
    server = render(model, "cctv-srv", "nftables", {})["mpcpu.nft"]
    assert 'ip saddr @mpcpus udp dport 69 ct helper set "tftp" accept' in server
    assert 'ip daddr @mpcpus udp dport 69 ct helper set "tftp" accept' in server
    gateway = render(model, "cctv-gw", "nftables", {})["mpcpu.nft"]
    assert gateway.count('ct helper set "tftp"') == 2
    assert 'type "tftp" protocol udp' in gateway


def test_iptables_attaches_the_helper_in_the_raw_table(model):
    text = render(model, "cctv-srv", "iptables", {})["mpcpu.rules"]
    raw = text.split("*raw\n", 1)[1].split("COMMIT", 1)[0]
    assert raw.count("-j CT --helper tftp") == 6  # three CIDR blocks of MPCPUs, two directions
    assert "-A mpcpu-prerouting -s 198.51.100.10/31 -p udp -m udp --dport 69" in raw
    assert "-A mpcpu-output -d 198.51.100.74/31 -p udp -m udp --dport 69" in raw


def test_firewalld_files_are_xml_with_names_firewalld_accepts(model):
    files = render(model, "cctv-gw", "firewalld", {})
    for path, text in files.items():
        root = ElementTree.fromstring(text.encode())
        name = pathlib.PurePath(path).stem
        assert root.tag == path.split("/")[0].rstrip("s").replace("policie", "policy")
        if root.tag in ("zone", "policy"):
            assert len(name) <= 17
    helpers = [p for p, t in files.items() if '<helper name="tftp"/>' in t]
    assert helpers == ["services/mpcpu-snapshot.xml", "services/mpcpu-time-firmware.xml"]


def test_cisco_acl_refuses_a_host_nothing_crosses(model):
    with pytest.raises(cisco_ios.CiscoRenderError, match="no Appendix D flow crosses"):
        render(model, "cctv-srv", "cisco_ios", {})


def test_unknown_target_names_the_known_ones():
    with pytest.raises(KeyError, match="known: cisco_ios, firewalld, iptables, nftables"):
        targets.target("pf")


def _in_throwaway_netns(*argv, stdin):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a throwaway network namespace")
    return subprocess.run(
        ["unshare", "--net", *argv], input=stdin, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("case", [c for c in CASES if c[2] == "nftables"], ids=lambda c: c[0])
def test_nft_accepts_the_ruleset(model, case):
    if not shutil.which("nft"):
        pytest.skip("nft is not installed")
    text = render(model, case[1], "nftables", case[3])["mpcpu.nft"]
    result = _in_throwaway_netns("nft", "-c", "-f", "-", stdin=text)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", [c for c in CASES if c[2] == "iptables"], ids=lambda c: c[0])
def test_iptables_restore_accepts_the_ruleset(model, case):
    if not shutil.which("iptables-restore"):
        pytest.skip("iptables is not installed")
    text = render(model, case[1], "iptables", case[3])["mpcpu.rules"]
    result = _in_throwaway_netns("iptables-restore", "--test", "--noflush", stdin=text)
    assert result.returncode == 0, result.stderr


def test_management_access_is_never_open_to_an_mpcpu_inside_a_management_network(model):
    flat = dict(model, management_networks=["198.51.100.0/24", "203.0.113.0/28"])
    nft = render(flat, "cctv-srv", "nftables", {})["mpcpu.nft"]
    assert "ip saddr @management ip saddr != @mpcpus tcp dport 22 accept" in nft
    rules = render(flat, "cctv-srv", "iptables", {})["mpcpu.rules"]
    management = [line for line in rules.splitlines() if line.startswith("-A mpcpu-management")]
    assert management == [
        "-A mpcpu-management -s 198.51.100.10/31 -j RETURN",
        "-A mpcpu-management -s 198.51.100.12/32 -j RETURN",
        "-A mpcpu-management -s 198.51.100.74/31 -j RETURN",
        '-A mpcpu-management -s 198.51.100.0/24 -m comment --comment "management access" -j ACCEPT',
        '-A mpcpu-management -s 203.0.113.0/28 -m comment --comment "management access" -j ACCEPT',
    ]


# --- IPv6 ------------------------------------------------------------------------------------


def _chain(text, name):
    return text.split("\tchain %s {\n" % name, 1)[1].split("\t}", 1)[0].splitlines()


def test_nftables_judges_ipv6_of_an_mpcpu_interface_before_anything_is_accepted(model):
    text = render(model, "cctv-gw", "nftables", {"input_policy": "drop"})["mpcpu.nft"]
    assert _chain(text, "input")[1:3] == [
        '\t\tiif "lo" accept',
        "\t\tmeta nfproto ipv6 iifname @mpcpu_interfaces jump ipv6_from_mpcpu_networks",
    ]
    assert _chain(text, "output")[1:3] == [
        '\t\toif "lo" accept',
        "\t\tmeta nfproto ipv6 oifname @mpcpu_interfaces jump ipv6_to_mpcpu_networks",
    ]
    for chain in ("ipv6_from_mpcpu_networks", "ipv6_to_mpcpu_networks"):
        verdicts = [line.strip().split(" comment ")[0] for line in _chain(text, chain)]
        assert verdicts == [
            "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept",
            "counter drop",
        ]
    forward = [line.strip().split(" comment ")[0] for line in _chain(text, "forward")[1:3]]
    assert forward == [
        "meta nfproto ipv6 iifname @mpcpu_interfaces counter drop",
        "meta nfproto ipv6 oifname @mpcpu_interfaces counter drop",
    ]


def test_ip6tables_sends_mpcpu_interfaces_away_before_ipv6_management(model):
    lines = render(model, "cctv-gw", "iptables", {})["mpcpu6.rules"].splitlines()
    input_chain = [line for line in lines if line.startswith("-A mpcpu-input ")]
    assert input_chain[1:3] == [
        "-A mpcpu-input -i eth1 -j mpcpu-from-net",
        "-A mpcpu-input -i eth2 -j mpcpu-from-net",
    ]
    assert "management access" in input_chain[3]
    from_net = [line for line in lines if line.startswith("-A mpcpu-from-net ")]
    assert from_net[-1].endswith("-j DROP") and "-p " not in from_net[-1]


def test_a_host_with_no_mpcpu_interface_gets_no_ipv6_interface_rules(model):
    nft = render(model, "cctv-srv", "nftables", {})["mpcpu.nft"]
    assert "mpcpu_interfaces" not in nft and "chain forward" not in nft
    ip6 = render(model, "cctv-srv", "iptables", {})["mpcpu6.rules"]
    assert " -i eth" not in ip6 and " -o eth" not in ip6


def test_firewalld_puts_the_mpcpu_interfaces_in_the_dropping_zone(model):
    zone = render(model, "cctv-gw", "firewalld", {})["zones/mpcpu.xml"]
    root = ElementTree.fromstring(zone.encode())
    assert root.get("target") == "DROP"
    assert [i.get("name") for i in root.findall("interface")] == ["eth1", "eth2"]
    ipv6 = [rule for rule in root.findall("rule") if rule.get("family") == "ipv6"]
    assert [rule.find("icmp-type").get("name") for rule in ipv6] == [
        "neighbour-solicitation",
        "neighbour-advertisement",
    ]
    assert all(rule.find("accept") is not None for rule in ipv6)


@pytest.mark.parametrize("case", [c for c in CASES if c[2] == "iptables"], ids=lambda c: c[0])
def test_ip6tables_restore_accepts_the_ipv6_ruleset(model, case):
    if not shutil.which("ip6tables-restore"):
        pytest.skip("ip6tables is not installed")
    text = render(model, case[1], "iptables", case[3])["mpcpu6.rules"]
    result = _in_throwaway_netns("ip6tables-restore", "--test", "--noflush", stdin=text)
    assert result.returncode == 0, result.stderr
