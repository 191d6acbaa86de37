"""The change bundle: every firewall target of every managed host, the site router ACL and
the service settings, byte-identical for the same site."""

import json

import pytest

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import (
    bundle,
    role_options,
    site_model,
    site_warnings,
)


def lab_like_model(make_inventory):
    return site_model.build_site(*make_inventory())


def test_same_site_gives_identical_files(make_inventory):
    assert bundle.bundle_files(lab_like_model(make_inventory)) == bundle.bundle_files(
        lab_like_model(make_inventory)
    )


def test_every_managed_host_gets_every_firewall_target_it_can_load(make_inventory):
    model = lab_like_model(make_inventory)
    files = bundle.bundle_files(model)
    routers = {router["name"] for router in model["routers"]}
    for host in bundle.managed_hosts(model):
        own = [path.split("/") for path in files if path.startswith("firewall/%s/" % host)]
        targets = {parts[2] for parts in own if len(parts) > 3}
        expected = set(bundle.ROUTER_TARGETS if host in routers else bundle.HOST_TARGETS)
        assert targets == expected, host
    assert "ip access-list extended" in files["firewall/site-router-acl.ios"]


def test_kea_reserves_every_mpcpu_by_mac(make_inventory):
    site, groups, hostvars = make_inventory()
    groups["mpcpu_dhcp_servers"] = ["router"]  # on the MPCPU network, as Kea must be
    hostvars["router"]["mpcpu_service_ip"] = "198.51.100.1"
    model = site_model.build_site(site, groups, hostvars)
    files = bundle.bundle_files(model)
    (kea_path,) = [path for path in files if path.endswith("kea-dhcp4.conf")]
    subnets = json.loads(files[kea_path])["Dhcp4"]["subnet4"]
    reserved = {(r["hw-address"], r["ip-address"]) for s in subnets for r in s["reservations"]}
    assert reserved == {(device["mac"], device["ip"]) for device in model["mpcpus"]}


def flat_site(make_inventory):
    """One network, no router: the server shares the MPCPUs' network, nothing crosses."""
    site, groups, hostvars = make_inventory()
    site["networks"] = [dict(site["networks"][0], kind="shared")]
    site["management_networks"] = ["198.51.100.0/28"]
    del groups["mpcpu_routers"], hostvars["router"]
    hostvars["pc-server"]["ansible_host"] = "198.51.100.5"
    return site_model.build_site(site, groups, hostvars)


def test_a_flat_site_gets_a_note_instead_of_the_site_router_acl(make_inventory):
    files = bundle.bundle_files(flat_site(make_inventory))
    assert "firewall/site-router-acl.ios" not in files
    assert files["firewall/site-router-acl.md"] == bundle.NO_CROSSING_NOTE
    assert files["firewall/appliance/README.md"] == bundle.NO_CROSSING_NOTE
    assert "table inet mpcpu" in files["firewall/pc-server/nftables/mpcpu.nft"]


def test_a_site_with_crossing_flows_gets_the_acl_and_no_note(make_inventory):
    files = bundle.bundle_files(lab_like_model(make_inventory))
    assert "firewall/site-router-acl.md" not in files
    assert files["firewall/site-router-acl.ios"].startswith("! MPCPU router ACLs")


def test_a_dhcp_server_that_routes_two_mpcpu_networks_serves_both_as_the_dhcp_role_would(
    make_inventory,
):
    site, groups, hostvars = make_inventory()
    site["networks"].append(
        {"name": "garage", "cidr": "198.51.100.64/26", "gateway": "198.51.100.65", "kind": "mpcpu"}
    )
    groups["mpcpu"].append("mpcpu-c")
    hostvars["mpcpu-c"] = {"mpcpu_ip": "198.51.100.70", "mpcpu_mac": "02:00:00:00:00:0c"}
    groups["mpcpu_dhcp_servers"] = ["router"]
    hostvars["router"]["mpcpu_service_ip"] = "198.51.100.1"
    hostvars["router"]["mpcpu_router_addresses"].append("198.51.100.65")
    files = bundle.bundle_files(site_model.build_site(site, groups, hostvars))
    config = json.loads(files["services/router/kea-dhcp4.conf"])["Dhcp4"]
    assert [subnet["subnet"] for subnet in config["subnet4"]] == [
        "198.51.100.0/26",
        "198.51.100.64/26",
    ]
    assert config["interfaces-config"]["interfaces"] == [
        "<interface with 198.51.100.1>",
        "<interface with 198.51.100.65>",
    ]


# Options whose change no host shows, with the reason (none today: every role option lands in
# options/<host>/<role>.json, and the firewall's shape the rulesets too).
NOT_AFFECTING_HOSTS = {}


def _changed(option):
    default = option.get("default")
    kind = option.get("type", "str")
    if kind == "bool":
        return not default
    if option.get("choices"):
        return [choice for choice in option["choices"] if choice != default][0]
    if kind in ("int", "float"):
        return (default if isinstance(default, (int, float)) else 0) + 1
    if kind == "list":
        return list(default or []) + [2222 if option.get("elements") == "int" else "changed"]
    return "%s-changed" % (default or "")


def _role_options():
    for role, _part in role_options.ROLE_PARTS:
        for name, option in sorted(site_warnings.declared_spec(role).items()):
            if option.get("type") != "dict" and name not in NOT_AFFECTING_HOSTS:
                yield role, name, option


_UNCHANGED = []


@pytest.fixture
def unchanged_bundle(make_inventory):
    """The good inventory's bundle, rendered once for all the option tests."""
    if not _UNCHANGED:
        site, groups, hostvars = make_inventory()
        _UNCHANGED.append(
            bundle.bundle_files(site_model.build_site(site, groups, hostvars), hostvars)
        )
    return _UNCHANGED[0]


@pytest.mark.parametrize(
    ("role", "name", "option"),
    list(_role_options()),
    ids=["%s-%s" % (role, name) for role, name, _option in _role_options()],
)
def test_changing_any_role_option_changes_the_bundle(
    make_inventory, unchanged_bundle, role, name, option
):
    site, groups, hostvars = make_inventory()
    model = site_model.build_site(site, groups, hostvars)
    before = unchanged_bundle
    part = dict(role_options.ROLE_PARTS)[role]
    for host in site_warnings.role_hosts(model, part):
        hostvars[host][name] = _changed(option)
    after = bundle.bundle_files(model, hostvars)
    assert [path for path in before if before[path] != after.get(path)], (role, name)


def test_firewall_options_shape_the_rulesets_not_only_the_options_file(make_inventory):
    site, groups, hostvars = make_inventory()
    model = site_model.build_site(site, groups, hostvars)
    hostvars["pc-server"]["firewall_management_ports"] = [22, 2222]
    files = bundle.bundle_files(model, hostvars)
    assert "tcp dport { 22, 2222 }" in files["firewall/pc-server/nftables/mpcpu.nft"]


def test_the_bundle_closes_ipv6_where_the_host_faces_an_mpcpu_network(make_inventory):
    files = bundle.bundle_files(lab_like_model(make_inventory), make_inventory()[2])
    router_rules = files["firewall/router/nftables/mpcpu.nft"]
    assert "meta nfproto ipv6" in router_rules and '"deploy-if0"' in router_rules
    assert "deploy-if0" in files["firewall/router/iptables/mpcpu6.rules"]
    assert (
        "`deploy-if0`: the interface carrying 198.51.100.1"
        in files["firewall/router/interfaces.md"]
    )


def test_a_secret_option_is_masked_in_the_options(make_inventory):
    site, groups, hostvars = make_inventory()
    hostvars["pc-server"]["smtp_relayhost_password"] = "hunter2"  # as a future option would be
    model = site_model.build_site(site, groups, hostvars)
    texts = bundle.bundle_files(model, hostvars).values()
    assert not any("hunter2" in text for text in texts)
    assert bundle.role_option_value("smtp_relayhost_password", "hunter2") == bundle.MASKED


def test_the_ntp_and_smtp_hosts_get_their_text_files_rendered_with_their_options(make_inventory):
    site, groups, hostvars = make_inventory()
    hostvars["pc-server"]["smtp_relayhost"] = "[mail.example.net]:587"
    model = site_model.build_site(site, groups, hostvars)
    jobs = dict((job["path"], job) for job in bundle.template_jobs(model, hostvars))
    assert sorted(jobs) == [
        "files/pc-server/etc/chrony/chrony.conf",
        "files/pc-server/etc/postfix/main.cf",
        "files/pc-server/etc/postfix/master.cf",
    ]
    main_cf = jobs["files/pc-server/etc/postfix/main.cf"]
    assert main_cf["template"].endswith("roles/smtp/templates/main.cf.j2")
    assert main_cf["variables"]["smtp_relayhost"] == "[mail.example.net]:587"
    assert main_cf["variables"]["smtp_myhostname"] == "pc-server"
    assert main_cf["variables"]["smtp_site_model"] is model


def test_an_appliance_router_gets_its_platform_and_flow_check_and_no_host_firewall(
    make_inventory,
):
    site, groups, hostvars = make_inventory()
    hostvars["router"]["mpcpu_router_platform"] = "ciscoasa"
    files = bundle.bundle_files(site_model.build_site(site, groups, hostvars))
    router_files = sorted(path for path in files if path.startswith("firewall/router/"))
    assert router_files == [
        "firewall/router/README.md",
        "firewall/router/aerleon/def/networks.yaml",
        "firewall/router/aerleon/def/services.yaml",
        "firewall/router/aerleon/policies/pol/mpcpu-boundary.yaml",
        "firewall/router/ciscoasa/flow-check.md",
        "firewall/router/ciscoasa/mpcpu-boundary.asa",
        "firewall/router/ciscoasa/notes.md",
    ]
    assert " 0 failed.**" in files["firewall/router/ciscoasa/flow-check.md"]


def test_an_ios_appliance_router_gets_the_ios_acl(make_inventory):
    site, groups, hostvars = make_inventory()
    hostvars["router"]["mpcpu_router_platform"] = "cisco_ios"
    files = bundle.bundle_files(site_model.build_site(site, groups, hostvars))
    assert sorted(p for p in files if p.startswith("firewall/router/")) == [
        "firewall/router/cisco_ios/mpcpu-acl.ios"
    ]


def test_the_router_platforms_are_the_firewall_targets_for_routers():
    assert set(site_model.settings.ROUTER_PLATFORMS) == set(bundle.APPLIANCE_TARGETS) | {
        "cisco_ios"
    }
