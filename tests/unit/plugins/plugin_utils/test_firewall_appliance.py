"""Appliance targets through Aerleon: golden files per target, the export aclgen renders the
same, every flow of the site permitted in its direction and a set of flows denied (AclCheck on
each target's own filters), and bad input refused naming the target and the flow."""

import ipaddress
import os
import pathlib
import random
import shutil
import subprocess
import sys
from xml.etree import ElementTree

import pytest
import yaml
from unit.plugins.plugin_utils import acl_text

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import bundle, site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    aerleon_adapter,
    aerleon_export,
    appliance,
    cisco_ios,
    policy,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    boundary as mpcpu_boundary,  # the fixture ``boundary`` is the site router's policy
)

TESTS = pathlib.Path(__file__).resolve().parents[3]
GOLDEN = TESTS / "golden" / "aerleon"
SITE = TESTS / "golden" / "firewall" / "site.yml"
STATELESS = [t for t, p in aerleon_export.PLATFORMS.items() if p.state == "stateless"]
STATEFUL = [t for t, p in aerleon_export.PLATFORMS.items() if p.state == "stateful"]
TFTP_ROWS = ("snapshot", "time_firmware")


def load_inventory(seed=None):
    with SITE.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    site, groups, hostvars = raw["site"], raw["groups"], raw["hostvars"]
    if seed is not None:
        generator = random.Random(seed)
        groups = {name: generator.sample(hosts, len(hosts)) for name, hosts in groups.items()}
        names = list(hostvars)
        generator.shuffle(names)
        hostvars = {name: hostvars[name] for name in names}
    return site, groups, hostvars


@pytest.fixture(scope="module")
def model():
    return site_model.build_site(*load_inventory())


@pytest.fixture(scope="module")
def files(model):
    return appliance.render_files(model)


@pytest.fixture(scope="module")
def boundary(model):
    return policy.build_site_router_policy(model)


def compiled(model, boundary, target, drop=()):
    filters = aerleon_export.platform_filters(boundary, target)
    for one in filters:
        one["terms"] = [term for term in one["terms"] if term["name"] not in drop]
    names = appliance.naming_from(aerleon_export.definitions(boundary, model))
    return filters, appliance.compile_target(filters, names, target)


def checked(model, boundary, target):
    return appliance.check_target(model, boundary, target, *compiled(model, boundary, target))[0]


def checker(model, boundary, target):
    return appliance.Checker(boundary, target, *compiled(model, boundary, target))


def packet(protocol, source, destination):
    """A new flow's first packet; ends written "address:port"."""
    src, src_port = source.split(":")
    dst, dst_port = destination.split(":")
    return appliance.Probe(
        "probe", "-", protocol, src, int(src_port), dst, int(dst_port), False, ""
    )


# --- golden files, determinism, aclgen ---------------------------------------------------------


def test_rendering_matches_golden_files(files):
    if os.environ.get("MPCPU_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, text in files.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text, encoding="utf-8")
    on_disk = sorted(str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file())
    assert on_disk == sorted(files)
    for name, text in files.items():
        assert (GOLDEN / name).read_text(encoding="utf-8") == text, (
            "golden file %s differs (MPCPU_UPDATE_GOLDEN=1 to accept)" % name
        )


def test_every_target_has_its_file_a_note_and_a_flow_table(files):
    for target, platform in aerleon_export.PLATFORMS.items():
        assert files["%s/mpcpu-boundary%s" % (target, platform.suffix)].strip()
        assert "TFTP data from ephemeral ports" in files["%s/notes.md" % target]
        assert "| check | row | packet |" in files["%s/flow-check.md" % target]


def test_structured_outputs_are_well_formed(files):
    rules = ElementTree.fromstring(files["paloalto/mpcpu-boundary.xml"]).iter("entry")
    assert {"snapshot", "time-firmware", "ntp"} <= {entry.get("name") for entry in rules}
    for name in ("juniper/mpcpu-boundary.jcl", "srx/mpcpu-boundary.srx"):
        text = files[name]
        assert text.count("{") == text.count("}") > 0, name


def test_same_site_in_any_order_gives_byte_identical_files():
    first = appliance.render_files(site_model.build_site(*load_inventory(seed=1)))
    second = appliance.render_files(site_model.build_site(*load_inventory(seed=2)))
    assert first == second


def test_aclgen_renders_the_exported_policy_into_the_same_files(files, tmp_path):
    aclgen = pathlib.Path(sys.executable).with_name("aclgen")
    if not aclgen.exists():
        pytest.skip("aclgen is not installed beside this Python")
    for name, text in files.items():
        if name.startswith("aerleon/"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text, encoding="utf-8")
    subprocess.run(
        [str(aclgen), "--output_directory", "out", "--max_renderers", "1"],
        cwd=str(tmp_path / "aerleon"),
        check=True,
        capture_output=True,
    )
    for target, platform in aerleon_export.PLATFORMS.items():
        name = "mpcpu-boundary" + platform.suffix
        produced = (tmp_path / "aerleon" / "out" / name).read_text(encoding="utf-8")
        assert produced == files["%s/%s" % (target, name)], target


# --- flow by flow --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", list(aerleon_export.PLATFORMS))
def test_every_check_of_the_flow_table_passes(model, boundary, target):
    results = checked(model, boundary, target)
    assert [r for r in results if not r["ok"]] == []


@pytest.mark.parametrize("target", list(aerleon_export.PLATFORMS))
def test_every_crossing_flow_is_permitted_in_its_direction(model, boundary, target):
    results = checked(model, boundary, target)
    flows = [r for r in results if r["check"] == "flow"]
    cctv_b = ipaddress.ip_network("198.51.100.64/26")  # the DHCP server sits on cctv-a
    crossing = [
        f
        for f in model["flows"]
        if not f["pc_ip"].startswith("198.51.100.") or ipaddress.ip_address(f["mpcpu_ip"]) in cctv_b
    ]
    assert len(flows) == len(crossing) == 32
    assert {r["result"] for r in flows} == {"permit"}
    reached = {(r["row"], r["packet"].split()[1].split(":")[0]) for r in flows}
    assert {(f["row"], f["src"]) for f in crossing} == reached


@pytest.mark.parametrize("target", STATEFUL)
def test_stateful_targets_deny_every_probe_that_is_not_a_flow(model, boundary, target):
    results = checked(model, boundary, target)
    denials = [r for r in results if r["check"] not in ("flow",)]
    permitted = [r for r in denials if r["result"] == "permit"]
    # the reverse of a snapshot (PC -> MPCPU port 69) is the time/firmware row and the other
    # way round: both are real flows of the site
    assert {r["why"] for r in permitted} == {"flow time_firmware", "flow snapshot"}
    assert {r["check"] for r in permitted} == {"reverse"}
    kinds = {r["check"] for r in denials}
    assert kinds == {"reverse", "neighbour port", "non-MPCPU on MPCPU network", "MPCPU to SSH"}


@pytest.mark.parametrize("target", STATELESS)
def test_stateless_targets_let_through_only_answers_and_the_tftp_data_window(
    model, boundary, target
):
    results = checked(model, boundary, target)
    for r in results:
        if r["check"] in ("non-MPCPU on MPCPU network", "MPCPU to SSH"):
            assert r["result"] == "deny", r
        if r["result"] == "permit" and r["check"] not in ("flow", "reply", "tftp data"):
            assert r["why"].startswith(("TFTP data window", "flow time_", "flow snapshot")), r


@pytest.mark.parametrize("target", list(aerleon_export.PLATFORMS))
def test_hand_picked_packets(model, boundary, target):
    """Independent of the oracle: packets whose fate the guide decides."""
    check = checker(model, boundary, target)
    stateless = target in STATELESS
    cases = [
        (packet("udp", "203.0.113.10:49152", "198.51.100.74:4002"), "permit"),  # EASY CPU
        (packet("tcp", "203.0.113.10:49152", "198.51.100.10:514"), "permit"),  # activity log
        (packet("udp", "198.51.100.11:123", "203.0.113.10:123"), "permit"),  # NTP
        (packet("tcp", "198.51.100.10:49152", "203.0.113.10:22"), "deny"),  # SSH
        (packet("tcp", "198.51.100.10:40000", "203.0.113.10:514"), "deny"),  # reverse log
        (packet("udp", "198.51.100.2:49152", "203.0.113.10:69"), "deny"),  # stranger
        (packet("tcp", "203.0.113.10:40000", "198.51.100.10:25"), "deny"),  # reverse e-mail
        (packet("udp", "198.51.100.10:49152", "203.0.113.10:124"), "deny"),  # neighbour port
        (packet("udp", "203.0.113.99:49152", "198.51.100.10:4002"), "deny"),  # not a console
        # the reverse of EASY CPU: only the stateless TFTP data window lets it through
        (
            packet("udp", "198.51.100.10:40000", "203.0.113.10:4002"),
            "permit" if stateless else "deny",
        ),
    ]
    for probe, expected in cases:
        assert check.evaluate(probe)[0] == expected, (target, probe)


@pytest.mark.parametrize("target", ["cisco", "srx"])
def test_the_indexed_address_match_agrees_with_aerleons_own(model, boundary, target):
    from aerleon.lib import aclcheck  # noqa: PLC0415 - the reference implementation

    check = checker(model, boundary, target)
    addresses = ["198.51.100.%d" % n for n in (1, 2, 10, 11, 12, 13, 74, 75, 76)]
    addresses += ["203.0.113.10", "203.0.113.11", "192.0.2.1"]
    for policy_object in check.filters.values():
        for src in addresses:
            for dst in ("203.0.113.10", "198.51.100.11", "198.51.100.1"):
                args = (policy_object, src, dst, 49152, 69, "udp")
                ours = [(m.filter, m.term) for m in check.aclcheck(*args).Matches()]
                theirs = [(m.filter, m.term) for m in aclcheck.AclCheck(*args).Matches()]
                assert ours == theirs, (src, dst)


TEXT_TARGETS = ["cisco", "cisconx", "arista", "ciscoasa"]


def _text_verdict(acls, platform, networks, probe):
    """Every ACL the packet meets (from/to MPCPU by its ends' sides) must permit it."""
    names = aerleon_export.filter_names(platform)
    sides = [mpcpu_boundary.side_of(address, networks) for address in (probe.src, probe.dst)]
    keys = aerleon_export.filters_for_sides(platform, *sides)
    verdicts = [acl_text.decide(acls[names[key]], probe) for key in keys]
    return "permit" if verdicts and set(verdicts) == {"permit"} else "deny"


def _expected(model, probe, stateless):
    allowed = appliance.site_allows(appliance.flow_index(model), probe, stateless)
    return "permit" if probe.expect == "permit" or allowed else "deny"


@pytest.mark.parametrize("target", TEXT_TARGETS)
def test_the_rendered_acl_text_decides_every_probe_as_the_site_needs(
    model, boundary, files, target
):
    """A second opinion read from the vendor file itself, not from Aerleon's policy object."""
    platform = aerleon_export.PLATFORMS[target]
    acls = acl_text.parse(files["%s/mpcpu-boundary%s" % (target, platform.suffix)])
    assert sorted(acls) == ["MPCPU-FROM-DEVICES", "MPCPU-TO-DEVICES"]
    networks = mpcpu_boundary.mpcpu_networks(boundary)
    stateless = platform.state == aerleon_export.STATELESS
    check = checker(model, boundary, target)
    probes = appliance.site_probes(model, boundary, stateless)[0]
    assert len(probes) > 100
    for probe in probes:
        by_text = _text_verdict(acls, platform, networks, probe)
        assert by_text == check.evaluate(probe)[0] == _expected(model, probe, stateless), probe


def _hand_written_disagreements(model, boundary):
    acls = acl_text.parse(cisco_ios.render(boundary))
    platform = aerleon_export.PLATFORMS["cisco"]  # same ACL names and placement
    networks = mpcpu_boundary.mpcpu_networks(boundary)
    probes = appliance.site_probes(model, boundary, True)[0]
    return [
        probe
        for probe in probes
        if _text_verdict(acls, platform, networks, probe) != _expected(model, probe, True)
    ]


def _between_mpcpu_networks(boundary, probe):
    networks = mpcpu_boundary.mpcpu_networks(boundary)
    sides = {mpcpu_boundary.side_of(address, networks) for address in (probe.src, probe.dst)}
    return sides == {mpcpu_boundary.MPCPU_SIDE}


def test_the_hand_written_ios_acl_passes_the_same_probes_across_the_boundary(model, boundary):
    disagreements = _hand_written_disagreements(model, boundary)
    assert [p for p in disagreements if not _between_mpcpu_networks(boundary, p)] == []


def test_the_hand_written_ios_acl_passes_flows_between_two_mpcpu_networks(model, boundary):
    assert _hand_written_disagreements(model, boundary) == []


def test_a_missing_term_fails_the_check_and_names_the_flow(model, boundary):
    filters, without_ntp = compiled(model, boundary, "ciscoasa", drop=("ntp",))
    results = appliance.check_target(model, boundary, "ciscoasa", filters, without_ntp)[0]
    failed = [r for r in results if not r["ok"]]
    assert failed and {r["row"] for r in failed} == {"ntp"}
    with pytest.raises(appliance.ApplianceError, match=r"ciscoasa: the rendered policy denies udp"):
        appliance._refuse_failed_checks("ciscoasa", results)


# --- TFTP data per target ----------------------------------------------------------------------


@pytest.mark.parametrize("target", STATELESS)
def test_stateless_targets_pass_tftp_data_by_unprivileged_ports_between_the_tftp_hosts(
    boundary, target
):
    terms = [t for f in aerleon_export.platform_filters(boundary, target) for t in f["terms"]]
    data = [t for t in terms if "-data" in t["name"]]
    assert {t["name"].split("-data")[0] for t in data} == {"snapshot", "time-firmware"}
    for term in data:
        assert term["source-port"] == term["destination-port"] == aerleon_export.TFTP_DATA
        ends = {term["source-address"], term["destination-address"]}
        assert "MPCPU_DEVICES" in ends and ends & {"MPCPU_SNAPSHOT_RECEIVERS", "MPCPU_MANAGERS"}


def test_stateful_targets_leave_tftp_data_to_the_vendor_inspection(files):
    assert "inspect tftp" in files["ciscoasa/notes.md"]
    assert "TFTP ALG" in files["srx/notes.md"]
    assert "App-ID `tftp`" in files["paloalto/notes.md"]
    for target in STATEFUL:
        suffix = aerleon_export.PLATFORMS[target].suffix
        assert "1024" not in files["%s/mpcpu-boundary%s" % (target, suffix)]
    xml = files["paloalto/mpcpu-boundary.xml"]
    for name in ("snapshot", "time-firmware"):
        rule = xml.split('<entry name="%s">' % name)[1].split("</entry>")[0]
        assert "<member>tftp</member>" in rule


def test_dhcp_broadcast_is_matched_by_address_on_router_acls_only(files):
    assert (
        "permit udp host 0.0.0.0 eq 68 host 255.255.255.255 eq 67"
        in files["cisco/mpcpu-boundary.acl"]
    )
    assert "255.255.255.255" not in files["ciscoasa/mpcpu-boundary.asa"]
    assert "dhcprelay" in files["ciscoasa/notes.md"]
    assert "cannot match a MAC" in files["cisco/notes.md"]


# --- bad input ---------------------------------------------------------------------------------


def test_a_mac_match_is_refused_naming_the_target_and_the_flow(model):
    dhcp_server = policy.build_host_policy(model, "cctv-gw")  # serves DHCP: matches MPCPU MACs
    with pytest.raises(aerleon_export.ExportError) as raised:
        appliance.render_files(model, dhcp_server, ["paloalto"])
    mac_errors = [e for e in raised.value.errors if "MAC" in e]
    assert mac_errors and mac_errors[0].startswith("paloalto: flow ip_assignment")
    assert "cannot match" in mac_errors[0]


def test_a_host_nothing_crosses_is_refused_naming_the_target(model):
    with pytest.raises(aerleon_export.ExportError, match=r"srx: cctv-srv: no Appendix D flow"):
        appliance.render_files(model, policy.build_host_policy(model, "cctv-srv"), ["srx"])


def test_an_unknown_target_names_the_known_ones(model, boundary):
    with pytest.raises(aerleon_export.ExportError, match=r"fortinet: unknown appliance target"):
        appliance.render_files(model, boundary, ["fortinet"])


def test_missing_aerleon_is_named_with_the_install_command(model, monkeypatch):
    monkeypatch.setattr(aerleon_adapter, "INSTALLED", False)
    with pytest.raises(appliance.ApplianceError, match=r"pip install 'aerleon>=1\.18,<1\.19'"):
        appliance.render_files(model)


def test_the_collection_loads_without_aerleon():
    code = (
        "import sys; sys.modules['aerleon'] = None\n"
        "from ansible_collections.megapower.mpcpu.plugins.plugin_utils import bundle\n"
        "from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import appliance\n"
        "from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (\n"
        "    aerleon_adapter)\n"
        "assert aerleon_adapter.INSTALLED is False\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# --- the bundle ----------------------------------------------------------------------------------


def test_the_bundle_holds_every_appliance_target_and_the_aclgen_export(model):
    files = bundle.bundle_files(model)
    for target, platform in aerleon_export.PLATFORMS.items():
        prefix = "firewall/appliance/%s/" % target
        assert prefix + "mpcpu-boundary" + platform.suffix in files
        assert prefix + "flow-check.md" in files
    assert "firewall/appliance/aerleon/policies/pol/mpcpu-boundary.yaml" in files
    assert "firewall/appliance/aerleon/def/networks.yaml" in files


def test_a_site_where_nothing_crosses_gets_a_note_instead_of_appliance_files(make_inventory):
    site, groups, hostvars = make_inventory()
    # One network shared by the MPCPUs and the server, no router.
    site["networks"] = [dict(site["networks"][0], kind="shared")]
    site["management_networks"] = ["198.51.100.0/26"]
    hostvars["pc-server"] = {"ansible_host": "198.51.100.20"}
    del hostvars["router"]
    groups["mpcpu_routers"] = []
    files = bundle._appliance_files(site_model.build_site(site, groups, hostvars))
    assert list(files) == ["firewall/appliance/README.md"]
    assert "nothing to filter" in files["firewall/appliance/README.md"]
