"""Port matrix and flow diagram: golden files, determinism, and arrows in the right direction."""

import os
import pathlib

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import reports, site_model

GOLDEN = pathlib.Path(__file__).resolve().parents[3] / "golden" / "reports"


def _check_golden(name, text):
    path = GOLDEN / name
    if os.environ.get("MPCPU_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), (
        "golden file %s differs (MPCPU_UPDATE_GOLDEN=1 to accept)" % name
    )


def test_port_matrix_matches_golden_file(model):
    _check_golden("port-matrix.md", reports.port_matrix(model))


def test_flow_diagram_matches_golden_file(model):
    _check_golden("flows.mmd", reports.flow_diagram(model))


def test_diagram_arrows_point_from_starter_to_listener(model):
    diagram = reports.flow_diagram(model)
    assert 'pc_pc_server -->|"Activity Logging<br/>TCP 514"| net_cctv' in diagram
    assert 'net_cctv -->|"Snapshot<br/>UDP 69"| pc_pc_server' in diagram


def test_matrix_lists_every_flow_once(model):
    flow_lines = [
        line for line in reports.port_matrix(model).splitlines() if line.startswith("| mpcpu-")
    ]
    # Seven rows for each of two MPCPUs, and the relay leg of each one's DHCP.
    assert len(flow_lines) == len(model["flows"]) == 14 + 2


def test_the_port_matrix_shows_device_settings_the_site_and_a_cpu_changed(make_inventory):
    site, groups, hostvars = make_inventory()
    site["device_protocol"] = {"status_request": "HELLO\r\n", "restart_timeout": 60}
    hostvars["mpcpu-b"]["mpcpu_device_protocol"] = {"time_file": "clock.dat"}
    matrix = reports.port_matrix(site_model.build_site(site, groups, hostvars))
    settings = matrix.split("## Device-side settings", 1)[1]
    assert "| status_request | `HELLO\\r\\n` | all | **no** |" in settings
    assert "| restart_timeout | 60 | all | **no** |" in settings
    # one CPU each: neither value is "the others"
    assert "| time_file | `clock.dat` | mpcpu-b | **no** |" in settings
    assert "| time_file | `mpcpu_time.txt` | mpcpu-a | yes |" in settings
    assert "| activity_log_request | `LOG {seq}\\r\\n` | all | yes |" in settings


def test_the_value_most_cpus_share_stands_for_the_others(make_inventory):
    site, groups, hostvars = make_inventory()
    groups["mpcpu"].append("mpcpu-c")
    hostvars["mpcpu-c"] = {"mpcpu_ip": "198.51.100.12", "mpcpu_mac": "02:00:00:00:00:0c"}
    hostvars["mpcpu-b"]["mpcpu_device_protocol"] = {"time_file": "clock.dat"}
    matrix = reports.port_matrix(site_model.build_site(site, groups, hostvars))
    assert "| time_file | `mpcpu_time.txt` | the others | yes |" in matrix
    assert "| time_file | `clock.dat` | mpcpu-b | **no** |" in matrix


def test_validation_prints_only_the_device_settings_not_at_their_default(make_inventory):
    site, groups, hostvars = make_inventory()
    assert not [
        line
        for line in reports.port_matrix_summary(site_model.build_site(site, groups, hostvars))
        if line.startswith("device setting")
    ]
    site["device_protocol"] = {"status_request": "HELLO\r\n"}
    hostvars["mpcpu-b"]["mpcpu_device_protocol"] = {"time_file": "clock.dat"}
    summary = reports.port_matrix_summary(site_model.build_site(site, groups, hostvars))
    assert [line for line in summary if line.startswith("device setting")] == [
        "device setting status_request: `HELLO\\r\\n` (every MPCPU)",
        "device setting time_file: `clock.dat` (mpcpu-b)",
    ]
