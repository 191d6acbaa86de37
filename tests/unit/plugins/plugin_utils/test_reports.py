"""Port matrix and flow diagram: golden files, determinism, and arrows in the right direction."""

import os
import pathlib

import pytest

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import reports, site_model

GOLDEN = pathlib.Path(__file__).resolve().parents[3] / "golden" / "reports"


@pytest.fixture
def model(make_inventory):
    return site_model.build_site(*make_inventory())


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
