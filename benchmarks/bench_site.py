"""The site the firewall benchmarks measure, and their timer.

N MPCPUs on one MPCPU network (198.18.0.0/15, the benchmarking range: nothing is ever sent to
it), a router ``gw`` joining it to the office network, and one CCTV server ``srv`` on the
office network playing the PC parts. Importing this module also puts the checkout's
collection on the import path.
"""

import ipaddress
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d  # noqa: E402

MPCPU_NETWORK = ipaddress.ip_network("198.18.0.0/15")
ROUTER = "gw"
SERVER = "srv"
DHCP_PART = "mpcpu_dhcp_servers"


def inventory(devices, *, spacing=1, dhcp_on_router=True):
    """``(site, groups, hostvars)`` for ``build_site``.

    ``spacing``: MPCPU addresses are that far apart (2 keeps any two from summarising into one
    prefix). ``dhcp_on_router``: the router serves DHCP on the MPCPU network; otherwise the
    server does, on the office network, through the router's relay.
    """
    site = {
        "name": "bench-%d" % devices,
        "networks": [
            {"name": "cctv", "cidr": str(MPCPU_NETWORK), "gateway": "198.18.0.1", "kind": "mpcpu"},
            {"name": "office", "cidr": "203.0.113.0/24", "gateway": "203.0.113.1", "kind": "pc"},
        ],
        "management_networks": ["203.0.113.0/28"],
    }
    groups = {part: [SERVER] for part in appendix_d.PC_PARTS}
    groups[appendix_d.ROUTER_GROUP] = [ROUTER]
    groups[appendix_d.DEVICE_GROUP] = []
    router = {"mpcpu_router_addresses": ["198.18.0.1", "203.0.113.1"]}
    if dhcp_on_router:
        groups[DHCP_PART] = [ROUTER]
        router["mpcpu_service_ip"] = "198.18.0.1"
    hostvars = {SERVER: {"ansible_host": "203.0.113.10"}, ROUTER: router}
    first = int(MPCPU_NETWORK.network_address) + 2
    for number in range(devices):
        address = first + spacing * number
        name = "cpu-%05d" % number
        groups[appendix_d.DEVICE_GROUP].append(name)
        hostvars[name] = {
            "mpcpu_ip": str(ipaddress.ip_address(address)),
            "mpcpu_mac": "02:00:%02x:%02x:%02x:%02x" % tuple(address.to_bytes(4, "big")),
        }
    return site, groups, hostvars


def median_seconds(function, repeat):
    """The median of ``repeat`` timed calls, after one untimed warm-up (imports, caches)."""
    function()
    samples = []
    for _round in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
