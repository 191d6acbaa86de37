"""The example site inventory the site-model and report tests start from."""

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model

SERVER = "pc-server"


def good_inventory():
    site = {
        "name": "unit",
        "networks": [
            # The router relays the MPCPUs' DHCP to the server on the office network.
            {
                "name": "cctv",
                "cidr": "198.51.100.0/26",
                "gateway": "198.51.100.1",
                "kind": "mpcpu",
                "dhcp_relays": ["198.51.100.1"],
            },
            {"name": "office", "cidr": "203.0.113.0/26", "gateway": "203.0.113.1", "kind": "pc"},
        ],
        "management_networks": ["203.0.113.0/26"],
    }
    groups = {part: [SERVER] for part in appendix_d.PC_PARTS}
    groups["mpcpu"] = ["mpcpu-b", "mpcpu-a"]
    groups["mpcpu_routers"] = ["router"]
    hostvars = {
        "mpcpu-a": {"mpcpu_ip": "198.51.100.10", "mpcpu_mac": "02:00:00:00:00:0a"},
        "mpcpu-b": {"mpcpu_ip": "198.51.100.11", "mpcpu_mac": "02-00-00-00-00-0B"},
        SERVER: {"ansible_host": "203.0.113.10"},
        "router": {"mpcpu_router_addresses": ["198.51.100.1", "203.0.113.1"]},
    }
    return site, groups, hostvars


@pytest.fixture
def make_inventory():
    """A function returning a fresh, valid (site, groups, hostvars) triple."""
    return good_inventory


@pytest.fixture
def model(make_inventory):
    """The example site's compiled model (a test file may define its own)."""
    return site_model.build_site(*make_inventory())
