"""The lab tool boots real hosts that reach each other, and leaves nothing behind."""

import ipaddress
import subprocess

import pytest

from mpcpu_lab import lab, topology, uplink

pytestmark = pytest.mark.lab

TOPOLOGY = {
    "name": "ltest",
    "bridges": [
        {"name": "cctv", "cidr": "203.0.113.96/28"},
        {"name": "office", "cidr": "203.0.113.112/28"},
    ],
    "hosts": [
        {
            "name": "device",
            "links": [
                {
                    "bridge": "cctv",
                    "addresses": ["203.0.113.98/28", "203.0.113.99/28"],
                    "mac": "02:00:5e:00:00:98",
                    "gateway": "203.0.113.97",
                }
            ],
        },
        {
            "name": "router",
            "forwarding": True,
            "links": [
                {"bridge": "cctv", "addresses": ["203.0.113.97/28"]},
                {"bridge": "office", "addresses": ["203.0.113.113/28"]},
            ],
        },
        {
            "name": "server",
            "links": [
                {"bridge": "office", "addresses": ["203.0.113.114/28"], "gateway": "203.0.113.113"}
            ],
        },
    ],
}


def on(state, host, command):
    return subprocess.run(
        lab.ssh_argv(state, host, command), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def running_lab():
    with lab.running(topology.parse(TOPOLOGY)) as state:
        yield state


def test_every_host_boots_systemd_to_running(running_lab):
    for host in ("device", "router", "server"):
        assert on(running_lab, host, "systemctl is-system-running").stdout.strip() == "running"


def _systemd_cgroup(pid):
    with open("/proc/%d/cgroup" % pid, encoding="ascii") as handle:
        lines = handle.read().splitlines()
    trees = (line.split(":", 2) for line in lines)
    return next(path for _number, key, path in trees if key in ("name=systemd", ""))


def test_every_host_keeps_its_own_systemd_cgroup_tree(running_lab):
    # Hosts sharing one tree remove each other's unit cgroups while booting (a host then
    # comes up degraded "at step CGROUP"); each nspawn must start in a cgroup of its own.
    trees = {_systemd_cgroup(entry["pid"]) for entry in running_lab["hosts"].values()}
    assert len(trees) == len(running_lab["hosts"])
    assert all(lab.machine_name("ltest", "") in tree for tree in trees)


def test_a_device_reaches_the_server_through_the_router_only(running_lab):
    result = on(running_lab, "device", "ping -c1 -W2 -I 203.0.113.99 203.0.113.114")
    assert result.returncode == 0, result.stdout + result.stderr
    traced = on(running_lab, "server", "ip neigh show 203.0.113.113")
    assert "lladdr" in traced.stdout


def test_the_link_carries_the_mac_the_topology_asked_for(running_lab):
    assert "02:00:5e:00:00:98" in on(running_lab, "device", "ip -br link show eth0").stdout


def test_a_host_sees_its_own_interfaces_not_the_machines(running_lab):
    assert on(running_lab, "router", "ls /sys/class/net").stdout.split() == ["eth0", "eth1", "lo"]
    assert on(running_lab, "device", "ls /sys/class/net").stdout.split() == ["eth0", "lo"]


def test_the_hosts_have_no_route_out_of_the_lab(running_lab):
    routes = on(running_lab, "server", "ip route").stdout
    assert "192.0.2." not in routes
    assert on(running_lab, "server", "ping -c1 -W1 192.0.2.2").returncode != 0


def test_an_overlapping_second_lab_is_refused_before_anything_is_made(running_lab):
    clash = dict(TOPOLOGY, name="lclash")
    with pytest.raises(lab.LabError, match="overlaps"):
        lab.up(topology.parse(clash))
    assert "lclash" not in lab.labs()


def test_the_machine_keeps_ip_forward_off(running_lab):
    with open("/proc/sys/net/ipv4/ip_forward", encoding="ascii") as handle:
        assert handle.read().strip() == "0"


def test_down_leaves_no_namespace_link_mount_or_process():
    small = {
        "name": "ldown",
        "bridges": [{"name": "net", "cidr": "203.0.113.128/28"}],
        "hosts": [{"name": "one", "links": [{"bridge": "net", "addresses": ["203.0.113.129/28"]}]}],
    }
    with lab.running(topology.parse(small)) as state:
        assert on(state, "one", "true").returncode == 0
    left = lab.leftovers()
    assert not any(name.startswith("mpl-ldown") for name in left["netns"])
    assert not any(name.startswith("mplldown") for name in left["links"])
    assert "ldown" not in left["labs"]
    assert not any("/ldown/" in point for point in left["mounts"])
    assert not any("mpl-ldown-" in directory for directory in left["cgroups"])


def test_a_failed_boot_is_torn_down_too(monkeypatch):
    broken = {
        "name": "lfail",
        "bridges": [{"name": "net", "cidr": "203.0.113.144/28"}],
        "hosts": [{"name": "one", "links": [{"bridge": "net", "addresses": ["203.0.113.145/28"]}]}],
    }
    monkeypatch.setattr(lab, "BOOT_TIMEOUT", 0.5)
    monkeypatch.setattr(lab, "_wait_for_ssh", _never_answers)
    with pytest.raises(lab.LabError):
        lab.up(topology.parse(broken))
    left = lab.leftovers()
    assert "lfail" not in left["labs"]
    assert not any(name.startswith("mpl-lfail") for name in left["netns"])


def _never_answers(address, deadline):
    raise lab.LabError("%s: no SSH (simulated)" % address)


def test_a_bridge_over_the_machines_package_mirror_is_refused(monkeypatch):
    mirror = ipaddress.ip_address("203.0.113.200")
    monkeypatch.setattr(uplink, "mirror_addresses", lambda: {mirror: "mirror.invalid"})
    covering = {
        "name": "lmirr",
        "bridges": [{"name": "net", "cidr": "203.0.113.192/28"}],
        "hosts": [{"name": "one", "links": [{"bridge": "net", "addresses": ["203.0.113.193/28"]}]}],
    }
    with pytest.raises(lab.LabError, match="203.0.113.200, where this machine reaches its mirror"):
        lab.up(topology.parse(covering))
    assert "lmirr" not in lab.labs()
    assert not any(name.startswith("mplmirr") for name in lab.leftovers()["links"])
