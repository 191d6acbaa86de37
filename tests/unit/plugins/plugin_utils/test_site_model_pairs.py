"""Hot-standby pairs and the device-side protocol settings in the compiled model."""

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import services, site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import protocol


def _devices(model):
    return dict((device["name"], device) for device in model["mpcpus"])


def test_each_mpcpu_of_a_pair_carries_its_mate_and_an_unpaired_one_none(make_inventory):
    site, groups, hostvars = make_inventory()
    groups["mpcpu"].append("mpcpu-c")
    hostvars["mpcpu-c"] = {"mpcpu_ip": "198.51.100.12", "mpcpu_mac": "02:00:00:00:00:0c"}
    hostvars["mpcpu-a"]["mpcpu_mate"] = "mpcpu-b"
    hostvars["mpcpu-b"]["mpcpu_mate"] = "mpcpu-a"
    devices = _devices(site_model.build_site(site, groups, hostvars))
    assert [devices[name]["mate"] for name in ("mpcpu-a", "mpcpu-b", "mpcpu-c")] == [
        "mpcpu-b",
        "mpcpu-a",
        None,
    ]


def test_a_site_without_device_protocol_gets_the_defaults_on_every_mpcpu(make_inventory):
    devices = _devices(site_model.build_site(*make_inventory()))
    assert devices["mpcpu-a"]["protocol"] == protocol.DEFAULTS
    assert devices["mpcpu-a"]["protocol"] is not protocol.DEFAULTS


def test_a_cpus_own_setting_wins_over_the_sites_and_leaves_the_rest(make_inventory):
    site, groups, hostvars = make_inventory()
    site["device_protocol"] = {"time_file": "clock.txt", "restart_timeout": 90}
    hostvars["mpcpu-b"]["mpcpu_device_protocol"] = {"restart_timeout": 600}
    devices = _devices(site_model.build_site(site, groups, hostvars))
    assert devices["mpcpu-a"]["protocol"]["restart_timeout"] == 90
    assert devices["mpcpu-b"]["protocol"]["restart_timeout"] == 600
    assert devices["mpcpu-b"]["protocol"]["time_file"] == "clock.txt"
    assert devices["mpcpu-b"]["protocol"]["firmware_file"] == "firmware.bin"


def test_each_reservation_carries_the_cpus_host_name_by_default_its_inventory_name(
    make_inventory,
):
    site, groups, hostvars = make_inventory()
    hostvars["mpcpu-b"]["mpcpu_dhcp_hostname"] = "lobby-b"
    model = site_model.build_site(site, groups, hostvars)
    attached = [
        {"device": "eth0", "address": "203.0.113.10"},
        {"device": "eth1", "address": "198.51.100.2"},
    ]
    config = services.kea_dhcp4_config(
        model, "pc-server", attached, lease_file="/var/lib/kea/leases.csv"
    )
    reservations = dict(
        (r["ip-address"], r)
        for subnet in config["Dhcp4"]["subnet4"]
        for r in subnet["reservations"]
    )
    assert reservations["198.51.100.10"]["hostname"] == "mpcpu-a"
    assert reservations["198.51.100.11"]["option-data"] == [
        {"name": "host-name", "data": "lobby-b", "always-send": True}
    ]
