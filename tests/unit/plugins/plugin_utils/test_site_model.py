"""The site model: a valid inventory compiles to flows; every bad inventory is refused at once."""

import copy

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import reports, site_model


def build(inventory):
    return site_model.build_site(*inventory)


def test_good_inventory_compiles_every_row_for_every_mpcpu(make_inventory):
    model = build(make_inventory())
    assert [device["name"] for device in model["mpcpus"]] == ["mpcpu-a", "mpcpu-b"]
    assert len(model["flows"]) == 7 * 2
    assert model["mpcpus"][1]["mac"] == "02:00:00:00:00:0b"
    assert model["mpcpus"][0]["network"] == "cctv"


def _flow(model, row, mpcpu="mpcpu-a"):
    return next(f for f in model["flows"] if f["row"] == row and f["mpcpu"] == mpcpu)


def test_activity_logging_is_the_collector_connecting_to_the_mpcpu(make_inventory):
    flow = _flow(build(make_inventory()), "activity_logging")
    assert (flow["src"], flow["src_port"], flow["dst"], flow["dst_port"]) == (
        "203.0.113.10",
        None,
        "198.51.100.10",
        514,
    )
    assert (flow["protocol"], flow["initiator"]) == ("tcp", "pc")


def test_snapshot_is_the_mpcpu_uploading_to_the_pc_tftp_server(make_inventory):
    flow = _flow(build(make_inventory()), "snapshot")
    assert (flow["src"], flow["src_port"], flow["dst"], flow["dst_port"]) == (
        "198.51.100.10",
        None,
        "203.0.113.10",
        69,
    )
    assert flow["application"] == "tftp"


def test_ntp_uses_port_123_on_both_sides(make_inventory):
    flow = _flow(build(make_inventory()), "ntp")
    assert (flow["src_port"], flow["dst_port"], flow["initiator"]) == (123, 123, "mpcpu")


def test_dhcp_goes_from_client_port_68_to_server_port_67(make_inventory):
    flow = _flow(build(make_inventory()), "ip_assignment")
    assert (flow["src_port"], flow["dst_port"], flow["application"]) == (68, 67, "dhcp")


def test_programmed_port_reaches_the_flows(make_inventory):
    site, groups, hostvars = make_inventory()
    site["port_overrides"] = {"activity_logging": {"mpcpu_port": 5140}}
    assert _flow(build((site, groups, hostvars)), "activity_logging")["dst_port"] == 5140


def test_dropped_row_needs_no_host_and_yields_no_flow(make_inventory):
    site, groups, hostvars = make_inventory()
    site["rows"] = ["activity_logging", "easy_cpu"]
    for part in ("mpcpu_snapshot_receivers", "mpcpu_managers", "mpcpu_ntp_servers"):
        groups[part] = []
    for part in ("mpcpu_smtp_relays", "mpcpu_dhcp_servers"):
        del groups[part]
    model = build((site, groups, hostvars))
    assert {flow["row"] for flow in model["flows"]} == {"activity_logging", "easy_cpu"}


def test_a_host_left_in_the_group_of_a_dropped_row_is_refused(make_inventory):
    site, groups, hostvars = make_inventory()
    site["rows"] = [row for row in appendix_d.ROWS_BY_ID if row != "alarm_email"]
    assert site_model.site_errors(site, groups, hostvars) == [
        "groups: mpcpu_smtp_relays: pc-server plays the PC side of row alarm_email (Alarm Email), "
        "which is not in mpcpu_site.rows: the role for it would refuse it; enable the row or "
        "empty the group"
    ]


def test_service_ip_overrides_ansible_host(make_inventory):
    site, groups, hostvars = make_inventory()
    hostvars["pc-server"] = {
        "ansible_host": "server.example.org",
        "mpcpu_service_ip": "203.0.113.20",
    }
    assert _flow(build((site, groups, hostvars)), "ntp")["dst"] == "203.0.113.20"


def test_model_is_deterministic_whatever_the_inventory_order(make_inventory):
    first = build(make_inventory())
    site, groups, hostvars = make_inventory()
    groups["mpcpu"].reverse()
    assert build((site, groups, hostvars)) == first


# Each bad inventory: a change to the good one, and the "<where>: <field>" the error must name.
def _set(path, value):
    def mutate(site, groups, hostvars):
        target = {"site": site, "groups": groups, "hostvars": hostvars}
        keys = path.split("/")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if value is DELETE:
            del target[int(last) if isinstance(target, list) else last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


DELETE = object()

BAD_INVENTORIES = [
    ("invalid mpcpu ip", _set("hostvars/mpcpu-a/mpcpu_ip", "198.51.100.300"), "mpcpu-a: mpcpu_ip"),
    ("ip is a hostname", _set("hostvars/mpcpu-a/mpcpu_ip", "cam1.local"), "mpcpu-a: mpcpu_ip"),
    ("missing mpcpu ip", _set("hostvars/mpcpu-a/mpcpu_ip", DELETE), "mpcpu-a: mpcpu_ip: missing"),
    (
        "ip outside its network",
        _set("hostvars/mpcpu-a/mpcpu_ip", "198.51.100.200"),
        "mpcpu-a: mpcpu_ip",
    ),
    ("ip in a pc network", _set("hostvars/mpcpu-a/mpcpu_ip", "203.0.113.50"), "mpcpu-a: mpcpu_ip"),
    ("broadcast address", _set("hostvars/mpcpu-a/mpcpu_ip", "198.51.100.63"), "mpcpu-a: mpcpu_ip"),
    ("gateway address", _set("hostvars/mpcpu-a/mpcpu_ip", "198.51.100.1"), "mpcpu-a: mpcpu_ip"),
    (
        "duplicate mpcpu ip",
        _set("hostvars/mpcpu-b/mpcpu_ip", "198.51.100.10"),
        "mpcpu-a, mpcpu-b: mpcpu_ip",
    ),
    (
        "mpcpu ip used by server",
        _set("hostvars/pc-server/ansible_host", "198.51.100.10"),
        "pc-server: ansible_host",
    ),
    ("invalid mac", _set("hostvars/mpcpu-a/mpcpu_mac", "02:00:00:00:00:zz"), "mpcpu-a: mpcpu_mac"),
    ("missing mac", _set("hostvars/mpcpu-a/mpcpu_mac", DELETE), "mpcpu-a: mpcpu_mac: missing"),
    (
        "multicast mac",
        _set("hostvars/mpcpu-a/mpcpu_mac", "01:00:5e:00:00:01"),
        "mpcpu-a: mpcpu_mac",
    ),
    (
        "duplicate mac",
        _set("hostvars/mpcpu-b/mpcpu_mac", "02:00:00:00:00:0A"),
        "mpcpu-a, mpcpu-b: mpcpu_mac",
    ),
    ("mac not a string", _set("hostvars/mpcpu-a/mpcpu_mac", 12), "mpcpu-a: mpcpu_mac"),
    (
        "port 0",
        _set("site/port_overrides", {"easy_cpu": {"mpcpu_port": 0}}),
        "mpcpu_site.port_overrides.easy_cpu: mpcpu_port",
    ),
    (
        "port 65536",
        _set("site/port_overrides", {"ntp": {"pc_port": 65536}}),
        "mpcpu_site.port_overrides.ntp: pc_port",
    ),
    (
        "port as text",
        _set("site/port_overrides", {"ntp": {"pc_port": "123"}}),
        "mpcpu_site.port_overrides.ntp: pc_port",
    ),
    (
        "port as boolean",
        _set("site/port_overrides", {"ntp": {"pc_port": True}}),
        "mpcpu_site.port_overrides.ntp: pc_port",
    ),
    (
        "unknown override key",
        _set("site/port_overrides", {"ntp": {"port": 124}}),
        "mpcpu_site.port_overrides.ntp: port",
    ),
    (
        "override of unknown row",
        _set("site/port_overrides", {"telnet": {"pc_port": 23}}),
        "mpcpu_site.port_overrides: telnet",
    ),
    ("unknown row", _set("site/rows", ["ntp", "telnet"]), "mpcpu_site: rows"),
    ("unknown site key", _set("site/netwroks", []), "mpcpu_site: netwroks"),
    ("no networks", _set("site/networks", []), "mpcpu_site: networks"),
    ("bad cidr", _set("site/networks/0/cidr", "198.51.100.0/33"), "mpcpu_site.networks[0]: cidr"),
    (
        "cidr with host bits",
        _set("site/networks/0/cidr", "198.51.100.5/26"),
        "mpcpu_site.networks[0]: cidr",
    ),
    (
        "overlapping networks",
        _set("site/networks/1/cidr", "198.51.100.0/25"),
        "mpcpu_site.networks: cidr",
    ),
    ("duplicate network name", _set("site/networks/1/name", "cctv"), "mpcpu_site.networks: name"),
    (
        "gateway outside network",
        _set("site/networks/0/gateway", "203.0.113.1"),
        "mpcpu_site.networks[0]: gateway",
    ),
    ("unknown network kind", _set("site/networks/0/kind", "dmz"), "mpcpu_site.networks[0]: kind"),
    (
        "no management network",
        _set("site/management_networks", DELETE),
        "mpcpu_site: management_networks",
    ),
    (
        "bad management network",
        _set("site/management_networks", ["mgmt"]),
        "mpcpu_site.management_networks[0]: cidr",
    ),
    ("no mpcpu devices", _set("groups/mpcpu", []), "groups: mpcpu"),
    ("part nobody plays", _set("groups/mpcpu_ntp_servers", []), "groups: mpcpu_ntp_servers"),
    (
        "server without ip",
        _set("hostvars/pc-server/ansible_host", "server.example.org"),
        "pc-server: ansible_host",
    ),
    (
        "server outside every network",
        _set("hostvars/pc-server/mpcpu_service_ip", "198.51.100.130"),
        "pc-server: mpcpu_service_ip",
    ),
    (
        "mpcpu that is also a server",
        _set("groups/mpcpu_smtp_relays", ["mpcpu-a"]),
        "mpcpu-a: groups",
    ),
    (
        "two listeners on one port",
        _set("site/port_overrides", {"ntp": {"pc_port": 69}}),
        "pc-server: port_overrides",
    ),
    (
        "router with one address",
        _set("hostvars/router/mpcpu_router_addresses", ["198.51.100.1"]),
        "router: mpcpu_router_addresses",
    ),
    (
        "router address invalid",
        _set("hostvars/router/mpcpu_router_addresses/1", "203.0.113.999"),
        "router: mpcpu_router_addresses[1]",
    ),
    (
        "firmware sha256 malformed",
        _set("hostvars/mpcpu-a/mpcpu_firmware", {"file": "fw.bin", "sha256": "xyz"}),
        "mpcpu-a: mpcpu_firmware.sha256",
    ),
    (
        "firmware without file",
        _set("hostvars/mpcpu-a/mpcpu_firmware", {"version": "4.2"}),
        "mpcpu-a: mpcpu_firmware.file",
    ),
    (
        "firmware version as number",
        _set("hostvars/mpcpu-a/mpcpu_firmware", {"file": "f", "version": 4.2}),
        "mpcpu-a: mpcpu_firmware.version",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=name) for name, mutate, expected in BAD_INVENTORIES],
)
def test_bad_inventory_is_refused_naming_host_and_field(make_inventory, mutate, expected):
    site, groups, hostvars = copy.deepcopy(make_inventory())
    mutate(site, groups, hostvars)
    with pytest.raises(site_model.SiteModelError) as refused:
        site_model.build_site(site, groups, hostvars)
    assert any(error.startswith(expected) for error in refused.value.errors), refused.value.errors


def test_every_error_is_reported_at_once(make_inventory):
    site, groups, hostvars = make_inventory()
    hostvars["mpcpu-a"]["mpcpu_ip"] = "nonsense"
    hostvars["mpcpu-b"]["mpcpu_mac"] = "nonsense"
    site["port_overrides"] = {"ntp": {"pc_port": 0}}
    errors = site_model.site_errors(site, groups, hostvars)
    assert [error.split(":")[0] for error in errors] == [
        "mpcpu_site.port_overrides.ntp",
        "mpcpu-a",
        "mpcpu-b",
    ]


def test_missing_site_variable_points_at_group_vars():
    with pytest.raises(site_model.SiteModelError, match="group_vars/all"):
        site_model.build_site(None, {}, {})


def test_at_least_25_bad_inventories_are_pinned():
    assert len(BAD_INVENTORIES) >= 25


# --- the per-host view -------------------------------------------------------------------


def test_an_mpcpu_sees_every_row_it_plays_with_its_programmed_port(make_inventory):
    site, groups, hostvars = make_inventory()
    site["port_overrides"] = {"easy_cpu": {"mpcpu_port": 4002}}
    view = site_model.host_view(build((site, groups, hostvars)), "mpcpu-a")
    assert (view["kind"], view["addresses"], view["networks"]) == (
        "mpcpu",
        ["198.51.100.10"],
        {"198.51.100.10": "cctv"},
    )
    assert [(row["id"], row["side"]) for row in view["rows"]][:2] == [
        ("activity_logging", "mpcpu"),
        ("easy_cpu", "mpcpu"),
    ]
    assert next(row for row in view["rows"] if row["id"] == "easy_cpu")["mpcpu_port"] == 4002
    assert {flow["row"] for flow in view["flows"]} == set(appendix_d.ROWS_BY_ID)
    assert {flow["mpcpu"] for flow in view["flows"]} == {"mpcpu-a"}


def test_a_server_sees_its_parts_its_flows_and_the_network_of_each_end(make_inventory):
    view = site_model.host_view(build(make_inventory()), "pc-server")
    assert (view["kind"], view["router"], view["addresses"]) == ("pc", False, ["203.0.113.10"])
    assert view["networks"] == {"203.0.113.10": "office"}
    assert len(view["parts"]) == 7
    assert {row["side"] for row in view["rows"]} == {"pc"}
    assert len(view["flows"]) == 7 * 2
    assert {(f["mpcpu_network"], f["pc_network"]) for f in view["flows"]} == {("cctv", "office")}
    assert view["crossing"] == []


def test_a_router_sees_the_flows_that_cross_it_between_the_networks_it_joins(make_inventory):
    view = site_model.host_view(build(make_inventory()), "router")
    assert (view["kind"], view["router"], view["parts"], view["flows"]) == ("router", True, [], [])
    assert view["networks"] == {"198.51.100.1": "cctv", "203.0.113.1": "office"}
    assert len(view["crossing"]) == 7 * 2
    assert {flow["pc_host"] for flow in view["crossing"]} == {"pc-server"}


def test_a_router_serving_dhcp_plays_those_flows_itself_and_forwards_the_rest(make_inventory):
    site, groups, hostvars = make_inventory()
    groups["mpcpu_dhcp_servers"] = ["router"]
    hostvars["router"]["mpcpu_service_ip"] = "198.51.100.1"
    view = site_model.host_view(build((site, groups, hostvars)), "router")
    assert view["kind"] == "pc"
    assert {flow["row"] for flow in view["flows"]} == {"ip_assignment"}
    assert "ip_assignment" not in {flow["row"] for flow in view["crossing"]}
    assert len(view["crossing"]) == 6 * 2


def test_every_host_has_a_view_and_the_views_share_out_the_flows(make_inventory):
    model = build(make_inventory())
    assert sorted(model["hosts"]) == ["mpcpu-a", "mpcpu-b", "pc-server", "router"]
    for name, view in model["hosts"].items():
        own = [f for f in model["flows"] if name in (f["mpcpu"], f["pc_host"])]
        assert view["flows"] == own, name


def test_a_host_outside_the_site_has_no_view(make_inventory):
    with pytest.raises(KeyError, match="'ghost' is not a host of the MPCPU site"):
        site_model.host_view(build(make_inventory()), "ghost")


def test_the_checking_build_stops_before_the_flows_and_the_matrix_counts_them(make_inventory):
    model, errors = site_model.check_site(*make_inventory(), compile_flows=False)
    assert errors == [] and "flows" not in model and "hosts" not in model
    assert reports.port_matrix_summary(model)[0] == (
        "Activity Logging: TCP MPCPU 514 / PC any, pc starts, 2 flow(s)"
    )


def test_one_port_check_for_every_port():
    assert site_model.port_problem(69) is None
    assert [site_model.port_problem(v) for v in (0, 65536, "69", True, None)] == [
        "0 is not a port number from 1 to 65535",
        "65536 is not a port number from 1 to 65535",
        "'69' is a string: write the number without quotes",
        "true is not a port number from 1 to 65535",
        "null is not a port number from 1 to 65535",
    ]


def test_a_problem_found_twice_is_listed_once():
    problems = site_model.Problems()
    problems.add("mpcpu-a", "mpcpu_ip", "bad")
    problems.add("mpcpu-a", "mpcpu_ip", "bad")
    assert problems == ["mpcpu-a: mpcpu_ip: bad"]


def test_management_networks_may_be_ipv6(make_inventory):
    site, groups, hostvars = make_inventory()
    site["management_networks"] = ["203.0.113.0/26", "2001:db8:b::/64"]
    model = site_model.build_site(site, groups, hostvars)
    assert model["management_networks"] == ["203.0.113.0/26", "2001:db8:b::/64"]


def test_the_output_directory_is_a_variable_of_the_collection_on_any_host(make_inventory):
    site, groups, hostvars = make_inventory()
    for host in hostvars.values():
        host["mpcpu_output_dir"] = "reports"
    assert site_model.site_errors(site, groups, hostvars) == []
