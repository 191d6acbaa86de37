"""Server settings from the site model: Kea reservations, chrony's allow list, postfix's relay."""

import glob
import json
import os
import subprocess

import pytest

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import (
    role_options,
    services,
    site_model,
)

SERVER = "pc-server"
LEASES = "/var/lib/kea/kea-leases4.csv"


def _ip_json(*links):
    """``ip -json address show`` for (device, [address/prefix, ...]) pairs."""
    return [
        {
            "ifname": device,
            "address": "02:00:00:00:00:%02x" % index,
            "addr_info": [
                {
                    "family": "inet",
                    "local": cidr.split("/")[0],
                    "prefixlen": int(cidr.split("/")[1]),
                }
                for cidr in cidrs
            ]
            + [{"family": "inet6", "local": "fe80::%d" % index, "prefixlen": 64}],
        }
        for index, (device, cidrs) in enumerate(links)
    ]


ATTACHED = services.interface_addresses(
    _ip_json(("lo", ["127.0.0.1/8"]), ("eth0", ["203.0.113.10/26"]), ("eth1", ["198.51.100.2/26"]))
)


def _local_inventory(make_inventory):
    """The server with an address on the MPCPU network too: it serves it on the segment."""
    site, groups, hostvars = make_inventory()
    del site["networks"][0]["dhcp_relays"]
    hostvars[SERVER]["mpcpu_service_ip"] = ["203.0.113.10", "198.51.100.2"]
    return site, groups, hostvars


@pytest.fixture
def site(make_inventory):
    return site_model.build_site(*_local_inventory(make_inventory))


@pytest.fixture
def relayed_site(make_inventory):
    """The server on the office network only; the router relays (giaddr 198.51.100.1)."""
    return site_model.build_site(*make_inventory())


def _site_with(make_inventory, change):
    inventory = _local_inventory(make_inventory)
    change(*inventory)
    return site_model.build_site(*inventory)


# --- the host's addresses --------------------------------------------------------------------


def test_interface_addresses_lists_every_ipv4_address_of_every_link():
    links = _ip_json(("eth1", ["198.51.100.3/26", "198.51.100.2/26"]), ("eth2", []))
    assert services.interface_addresses(links) == [
        {"device": "eth1", "address": "198.51.100.2"},
        {"device": "eth1", "address": "198.51.100.3"},
    ]


def test_interface_addresses_of_a_link_without_address_info_is_empty():
    assert services.interface_addresses([{"ifname": "eth2", "address": "02:00:00:00:00:01"}]) == []


# --- DHCP ----------------------------------------------------------------------------------


def _kea(site, addresses=ATTACHED):
    return services.kea_dhcp4_config(site, SERVER, addresses, lease_file=LEASES)["Dhcp4"]


def test_each_mpcpu_gets_one_reservation_of_its_mac_and_ip(site):
    (subnet,) = _kea(site)["subnet4"]
    assert subnet["subnet"] == "198.51.100.0/26"
    assert [(r["hw-address"], r["ip-address"]) for r in subnet["reservations"]] == [
        ("02:00:00:00:00:0a", "198.51.100.10"),
        ("02:00:00:00:00:0b", "198.51.100.11"),
    ]
    assert subnet["reservations"][0]["user-context"] == {"mpcpu": "mpcpu-a"}


def test_no_pool_so_an_unknown_mac_gets_no_address(site):
    (subnet,) = _kea(site)["subnet4"]
    assert "pools" not in subnet


def test_options_are_the_gateway_and_the_ntp_part(site):
    (subnet,) = _kea(site)["subnet4"]
    # The server is on the MPCPU network too: MPCPUs are told its address there.
    assert subnet["option-data"] == [
        {"name": "routers", "data": "198.51.100.1"},
        {"name": "ntp-servers", "data": "198.51.100.2"},
        {"name": "smtp-server", "data": "198.51.100.2"},
    ]


def test_no_routers_option_without_a_gateway_and_no_ntp_option_without_the_ntp_row(
    make_inventory,
):
    def change(site, groups, hostvars):
        del site["networks"][0]["gateway"]
        site["rows"] = ["ip_assignment"]
        for part in list(groups):
            if part not in ("mpcpu", "mpcpu_routers", "mpcpu_dhcp_servers"):
                groups[part] = []

    (subnet,) = _kea(_site_with(make_inventory, change))["subnet4"]
    assert subnet["option-data"] == []


def test_the_old_call_without_the_host_gives_the_same_configuration(site):
    assert services.kea_dhcp4_config(site, ATTACHED, lease_file=LEASES) == (
        services.kea_dhcp4_config(site, SERVER, ATTACHED, lease_file=LEASES)
    )


def test_kea_listens_only_on_the_mpcpu_facing_interface(site):
    assert _kea(site)["interfaces-config"] == {"interfaces": ["eth1"], "dhcp-socket-type": "raw"}


def test_leases_persist_in_the_memfile(site):
    database = _kea(site)["lease-database"]
    assert database == {"type": "memfile", "persist": True, "name": LEASES, "lfc-interval": 3600}


def test_subnet_id_is_the_network_address_so_it_survives_reordering(site):
    (subnet,) = _kea(site)["subnet4"]
    assert subnet["id"] == (198 << 24) + (51 << 16) + (100 << 8)


def test_kea_config_is_plain_json(site):
    assert json.loads(json.dumps(_kea(site))) == _kea(site)


def test_a_network_with_mpcpus_and_no_way_to_the_server_is_refused_by_the_model(
    make_inventory,
):
    def change(site, groups, hostvars):
        site["networks"].append({"name": "garage", "cidr": "198.51.100.64/26", "kind": "mpcpu"})
        groups["mpcpu"].append("mpcpu-c")
        hostvars["mpcpu-c"] = {"mpcpu_ip": "198.51.100.70", "mpcpu_mac": "02:00:00:00:00:0c"}

    with pytest.raises(site_model.SiteModelError, match="no address in MPCPU network garage"):
        _site_with(make_inventory, change)


def test_only_packets_from_a_reserved_mac_and_its_own_address_escape_the_drop_class(site):
    classes = {item["name"]: item["test"] for item in _kea(site)["client-classes"]}
    assert classes["DROP"] == "not member('MPCPU')"
    assert classes["MPCPU"] == (
        "(pkt4.mac == 0x02000000000a"
        " and (pkt4.ciaddr == 0.0.0.0 or pkt4.ciaddr == 198.51.100.10)"
        " and (pkt.src == 0.0.0.0 or pkt.src == 198.51.100.10))"
        " or (pkt4.mac == 0x02000000000b"
        " and (pkt4.ciaddr == 0.0.0.0 or pkt4.ciaddr == 198.51.100.11)"
        " and (pkt.src == 0.0.0.0 or pkt.src == 198.51.100.11))"
    )
    # MPCPU is defined before DROP tests membership in it (Kea evaluates classes in order).
    assert [item["name"] for item in _kea(site)["client-classes"]] == ["MPCPU", "DROP"]


OFFICE_ONLY = services.interface_addresses(
    _ip_json(("lo", ["127.0.0.1/8"]), ("eth0", ["203.0.113.10/26"]))
)


def test_a_relayed_network_gets_its_subnet_selected_by_the_relay_address(relayed_site):
    kea = services.kea_dhcp4_config(relayed_site, SERVER, OFFICE_ONLY, lease_file=LEASES)
    (subnet,) = kea["Dhcp4"]["subnet4"]
    assert subnet["subnet"] == "198.51.100.0/26"
    assert subnet["relay"] == {"ip-addresses": ["198.51.100.1"]}
    assert [r["ip-address"] for r in subnet["reservations"]] == ["198.51.100.10", "198.51.100.11"]
    assert "pools" not in subnet
    # Kea hears the relays on the interface of the address they send to.
    assert kea["Dhcp4"]["interfaces-config"]["interfaces"] == ["eth0"]
    assert subnet["option-data"][1:] == [
        {"name": "ntp-servers", "data": "203.0.113.10"},
        {"name": "smtp-server", "data": "203.0.113.10"},
    ]
    assert services.dhcp_server_errors(relayed_site, SERVER, OFFICE_ONLY) == []


def test_a_relayed_mpcpu_escapes_the_drop_class_only_through_its_networks_relay(relayed_site):
    kea = services.kea_dhcp4_config(relayed_site, SERVER, OFFICE_ONLY, lease_file=LEASES)
    test = kea["Dhcp4"]["client-classes"][0]["test"]
    assert test.startswith(
        "(pkt4.mac == 0x02000000000a"
        " and (pkt4.ciaddr == 0.0.0.0 or pkt4.ciaddr == 198.51.100.10)"
        " and (pkt.src == 0.0.0.0 or pkt.src == 198.51.100.10 or pkt4.giaddr == 198.51.100.1))"
    )


def test_a_relayed_server_without_the_address_the_relays_send_to_is_refused(relayed_site):
    elsewhere = services.interface_addresses(_ip_json(("eth0", ["203.0.113.20/26"])))
    assert services.dhcp_server_errors(relayed_site, SERVER, elsewhere) == [
        "pc-server: interfaces: 203.0.113.10, where the relays of network cctv (198.51.100.1) "
        "send, is not an address of this host"
    ]


def test_two_servers_of_one_network_answer_every_reservation_identically(make_inventory):
    site, groups, hostvars = make_inventory()
    groups["mpcpu_dhcp_servers"] = ["pc-server", "router"]
    hostvars["router"]["mpcpu_service_ip"] = "198.51.100.1"
    model = site_model.build_site(site, groups, hostvars)
    router = services.interface_addresses(
        _ip_json(("eth0", ["203.0.113.1/26"]), ("eth1", ["198.51.100.1/26"]))
    )
    (relayed,) = services.kea_dhcp4_config(model, SERVER, OFFICE_ONLY, lease_file=LEASES)["Dhcp4"][
        "subnet4"
    ]
    (local,) = services.kea_dhcp4_config(model, "router", router, lease_file=LEASES)["Dhcp4"][
        "subnet4"
    ]
    assert relayed.pop("relay") == {"ip-addresses": ["198.51.100.1"]}
    assert "relay" not in local
    # Same subnet id, reservations and options: whichever answers, the MPCPU gets the same.
    assert relayed == local


# Every lab image on this machine carries Kea (Debian 12: Kea 2.2, Debian 13: Kea 2.6).
KEA_ROOTS = sorted(
    path[: -len("/usr/sbin/kea-dhcp4")]
    for path in glob.glob(
        os.path.expanduser("~/.cache/megapower-mpcpu/images/*/rootfs/usr/sbin/kea-dhcp4")
    )
)


def _kea_check(root, config_path):
    """``kea-dhcp4 -t`` of an image, run here through the image's own loader and libraries."""
    libraries = "%s/usr/lib/x86_64-linux-gnu:%s/lib/x86_64-linux-gnu" % (root, root)
    argv = [root + "/lib64/ld-linux-x86-64.so.2", "--library-path", libraries]
    argv += [root + "/usr/sbin/kea-dhcp4", "-t", str(config_path)]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@pytest.mark.skipif(not KEA_ROOTS, reason="needs a lab image (it carries Kea)")
@pytest.mark.parametrize(
    "root", KEA_ROOTS, ids=[os.path.basename(os.path.dirname(r)) for r in KEA_ROOTS]
)
def test_kea_itself_accepts_the_rendered_configuration(site, tmp_path, root):
    # The test machine has neither the server's interfaces nor its lease directory.
    scratch_settings = {
        "interfaces-config": {"interfaces": []},
        "lease-database": {"type": "memfile", "persist": False},
    }
    config = tmp_path / "kea-dhcp4.conf"
    config.write_text(json.dumps({"Dhcp4": dict(_kea(site), **scratch_settings)}))
    checked = _kea_check(root, config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # ... and the check can fail: Kea refuses a class test it cannot parse.
    broken = json.loads(config.read_text())
    broken["Dhcp4"]["client-classes"][0]["test"] += " and pkt.nosuchfield == 1"
    config.write_text(json.dumps(broken))
    assert _kea_check(root, config).returncode != 0


@pytest.mark.skipif(not KEA_ROOTS, reason="needs a lab image (it carries Kea)")
@pytest.mark.parametrize(
    "root", KEA_ROOTS, ids=[os.path.basename(os.path.dirname(r)) for r in KEA_ROOTS]
)
def test_kea_itself_accepts_the_relayed_configuration(relayed_site, tmp_path, root):
    kea = services.kea_dhcp4_config(relayed_site, SERVER, OFFICE_ONLY, lease_file=LEASES)
    kea["Dhcp4"]["interfaces-config"] = {"interfaces": []}
    kea["Dhcp4"]["lease-database"] = {"type": "memfile", "persist": False}
    config = tmp_path / "kea-dhcp4.conf"
    config.write_text(json.dumps(kea))
    checked = _kea_check(root, config)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_good_dhcp_server_has_no_errors(site):
    assert services.dhcp_server_errors(site, SERVER, ATTACHED) == []


def test_a_dhcp_server_on_no_mpcpu_network_is_refused(site):
    office_only = services.interface_addresses(_ip_json(("eth0", ["203.0.113.10/26"])))
    assert services.dhcp_server_errors(site, SERVER, office_only) == [
        "pc-server: interfaces: no address in an MPCPU network (cctv 198.51.100.0/26): a DHCP "
        "server answers the broadcasts of the networks it is attached to"
    ]


def test_a_reservation_of_the_servers_own_address_is_refused(site):
    taken = services.interface_addresses(_ip_json(("eth1", ["198.51.100.10/26"])))
    assert services.dhcp_server_errors(site, SERVER, taken) == [
        "mpcpu-a: mpcpu_ip: 198.51.100.10 is the address of DHCP server pc-server on eth1"
    ]


def test_a_host_outside_the_dhcp_part_is_refused(site):
    assert services.dhcp_server_errors(site, "router", ATTACHED) == [
        "router: groups: is not in mpcpu_dhcp_servers"
    ]


def test_a_host_the_site_does_not_have_is_refused(site):
    assert services.dhcp_server_errors(site, "stranger", ATTACHED) == [
        "stranger: groups: is not in mpcpu_dhcp_servers"
    ]


@pytest.mark.parametrize("lifetime", [0, -1, "1d", True])
def test_a_lease_lifetime_that_is_not_positive_seconds_is_refused(site, lifetime):
    (error,) = services.dhcp_server_errors(site, SERVER, ATTACHED, valid_lifetime=lifetime)
    assert error.startswith("pc-server: dhcp_valid_lifetime: ")


# --- NTP ---------------------------------------------------------------------------------


def test_chrony_serves_every_mpcpu_network_and_nothing_else(make_inventory):
    def change(site, groups, hostvars):
        site["networks"].append({"name": "garage", "cidr": "198.51.100.64/26", "kind": "mpcpu"})

    settings = services.chrony_server_settings(_site_with(make_inventory, change), SERVER)
    assert settings == {"allow": ["198.51.100.0/26", "198.51.100.64/26"], "port": 123}


def test_chrony_listens_on_the_programmed_ntp_port(make_inventory):
    def change(site, groups, hostvars):
        site["port_overrides"] = {"ntp": {"pc_port": 1123}}

    assert (
        services.chrony_server_settings(_site_with(make_inventory, change), SERVER)["port"] == 1123
    )


PID1_STATUS = "Name:\tsystemd\nCapInh:\t0000000000000000\nCapBnd:\t%s\nCapAmb:\t0\n"


def test_a_container_without_cap_sys_time_is_seen_from_the_bounding_set():
    # PID 1 of a lab host (systemd-nspawn without CAP_SYS_TIME), as read there.
    assert not services.holds_capability(PID1_STATUS % "00000000fcecbfff", 25)


def test_a_full_bounding_set_holds_cap_sys_time():
    assert services.holds_capability(PID1_STATUS % "000001ffffffffff", 25)


def test_a_status_without_a_bounding_set_is_an_error():
    with pytest.raises(ValueError, match="no CapBnd"):
        services.holds_capability("Name:\tinit\n", 25)


def test_a_good_ntp_server_has_no_errors(site):
    assert services.ntp_server_errors(site, SERVER, ["ntp1.example.net", "192.0.2.123"]) == []


def test_a_malformed_upstream_server_is_refused(site):
    errors = services.ntp_server_errors(site, SERVER, ["ntp1.example.net", "ntp bad", ""])
    assert errors == [
        "pc-server: ntp_upstream_servers[1]: 'ntp bad' is not a host name or IP address",
        "pc-server: ntp_upstream_servers[2]: '' is not a host name or IP address",
    ]


@pytest.mark.parametrize("stratum", [0, 16, "10"])
def test_a_local_stratum_out_of_range_is_refused(site, stratum):
    (error,) = services.ntp_server_errors(site, SERVER, [], local_stratum=stratum)
    assert error.startswith("pc-server: ntp_local_stratum: ")


def test_no_local_stratum_and_no_upstream_is_refused_because_it_would_serve_nobody(site):
    (error,) = services.ntp_server_errors(site, SERVER, [], local_stratum=None)
    assert "would answer nobody" in error


def test_a_host_outside_the_ntp_part_is_refused(site):
    assert services.ntp_server_errors(site, "router") == [
        "router: groups: is not in mpcpu_ntp_servers"
    ]


# --- SMTP --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("[mail.example.com]:587", ("mail.example.com", 587)),
        ("[mail.example.com]", ("mail.example.com", None)),
        ("[192.0.2.25]:25", ("192.0.2.25", 25)),
    ],
)
def test_smarthost_in_brackets_is_parsed(text, parsed):
    assert role_options.parse_smarthost(text) == parsed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mail.example.com:25", "is not of the form [host]:port"),
        ("mail.example.com", "is not of the form [host]:port"),
        ("[mail.example.com]:", "is not of the form [host]:port"),
        ("[mail.example.com]:smtp", "is not of the form [host]:port"),
        ("[mail example.com]:25", "is not a host name or IP address"),
        ("[]:25", "is not a host name or IP address"),
        ("[mail.example.com]:70000", ": 70000 is not a port number from 1 to 65535"),
        ("[mail.example.com]:0", ": 0 is not a port number from 1 to 65535"),
        (25, "is not a string"),
    ],
)
def test_malformed_smarthost_is_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        role_options.parse_smarthost(text)


def test_relay_accepts_mail_from_loopback_and_each_mpcpu_address_only(site):
    assert services.postfix_relay_settings(site, SERVER) == {
        "mynetworks": ["127.0.0.0/8", "[::1]/128", "198.51.100.10/32", "198.51.100.11/32"],
        "port": 25,
    }


def test_a_good_relay_has_no_errors(site):
    assert services.smtp_relay_errors(site, SERVER, "[mail.example.com]:587") == []
    assert services.smtp_relay_errors(site, SERVER, "") == []


def test_a_malformed_smarthost_is_refused_naming_host_and_field(site):
    assert services.smtp_relay_errors(site, SERVER, "mail.example.com:25") == [
        "pc-server: smtp_relayhost: 'mail.example.com:25' is not of the form [host]:port "
        "(for example [mail.example.com]:587)"
    ]


@pytest.mark.parametrize("limit", [0, -5, "10M"])
def test_a_message_size_limit_that_is_not_positive_bytes_is_refused(site, limit):
    (error,) = services.smtp_relay_errors(site, SERVER, "", message_size_limit=limit)
    assert error.startswith("pc-server: smtp_message_size_limit: ")


def test_a_host_outside_the_smtp_part_is_refused(site):
    assert services.smtp_relay_errors(site, "router") == [
        "router: groups: is not in mpcpu_smtp_relays"
    ]


@pytest.mark.parametrize(
    "settings", [services.chrony_server_settings, services.postfix_relay_settings]
)
def test_the_settings_are_read_from_the_view_of_the_host_they_are_for(site, settings):
    with pytest.raises(ValueError, match="router does not play row"):
        settings(site, "router")
