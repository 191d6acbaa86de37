"""The lab refuses a topology that would put traffic outside the documentation ranges."""

import pytest

from mpcpu_lab import topology


def two_host_topology(**changes):
    raw = {
        "name": "unit",
        "bridges": [{"name": "cctv", "cidr": "198.51.100.32/28"}],
        "hosts": [
            {"name": "a", "links": [{"bridge": "cctv", "addresses": ["198.51.100.33/28"]}]},
            {"name": "b", "links": [{"bridge": "cctv", "addresses": ["198.51.100.34/28"]}]},
        ],
    }
    raw.update(changes)
    return raw


def test_controller_defaults_to_the_last_usable_address():
    parsed = topology.parse(two_host_topology())
    assert parsed["bridges"][0]["controller"] == "198.51.100.46"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Has-Caps"}, "name"),
        ({"name": "toolongname"}, "name"),
        ({"bridges": [{"name": "up", "cidr": "192.0.2.0/24"}]}, "bridges[0].cidr"),
        ({"bridges": [{"name": "lan", "cidr": "10.0.0.0/8"}]}, "bridges[0].cidr"),
        ({"bridges": [{"name": "x", "cidr": "198.51.100.33/28"}]}, "bridges[0].cidr"),
        ({"bridges": [{"cidr": "198.51.100.32/28", "controller": "198.51.100.99"}]}, "controller"),
        ({"bridges": []}, "bridges"),
        ({"hosts": []}, "hosts"),
    ],
)
def test_bad_topology_is_refused_naming_the_field(changes, field):
    with pytest.raises(topology.TopologyError, match=field.replace("[", r"\[").replace("]", r"\]")):
        topology.parse(two_host_topology(**changes))


def test_an_address_outside_its_bridge_is_refused():
    raw = two_host_topology()
    raw["hosts"][1]["links"][0]["addresses"] = ["203.0.113.5/24"]
    with pytest.raises(topology.TopologyError, match=r"hosts\[1\].links\[0\].addresses"):
        topology.parse(raw)


def test_a_link_to_an_unknown_bridge_is_refused():
    raw = two_host_topology()
    raw["hosts"][0]["links"][0]["bridge"] = "nowhere"
    with pytest.raises(topology.TopologyError, match=r"hosts\[0\].links\[0\].bridge"):
        topology.parse(raw)


def test_duplicate_host_names_are_refused():
    raw = two_host_topology()
    raw["hosts"][1]["name"] = "a"
    with pytest.raises(topology.TopologyError, match="unique"):
        topology.parse(raw)


def test_a_bad_mac_is_refused():
    raw = two_host_topology()
    raw["hosts"][0]["links"][0]["mac"] = "02:00:00:00:00"
    with pytest.raises(topology.TopologyError, match="mac"):
        topology.parse(raw)


def test_hosts_run_debian_12_unless_the_topology_says_otherwise(monkeypatch):
    monkeypatch.delenv(topology.RELEASE_VARIABLE, raising=False)
    assert [host["release"] for host in topology.parse(two_host_topology())["hosts"]] == [
        "bookworm",
        "bookworm",
    ]


def test_a_host_release_wins_over_the_labs(monkeypatch):
    monkeypatch.delenv(topology.RELEASE_VARIABLE, raising=False)
    raw = two_host_topology(release="trixie")
    raw["hosts"][1]["release"] = "bookworm"
    assert [host["release"] for host in topology.parse(raw)["hosts"]] == ["trixie", "bookworm"]


def test_the_environment_switches_a_whole_lab_to_another_release(monkeypatch):
    monkeypatch.setenv(topology.RELEASE_VARIABLE, "trixie")
    parsed = topology.parse(two_host_topology(release="bookworm"))
    assert parsed["release"] == "trixie"
    assert {host["release"] for host in parsed["hosts"]} == {"trixie"}


@pytest.mark.parametrize(
    ("where", "value"), [("lab", "buster"), ("host", "sid"), ("environment", "13")]
)
def test_an_unknown_release_is_refused_naming_where(monkeypatch, where, value):
    monkeypatch.delenv(topology.RELEASE_VARIABLE, raising=False)
    raw = two_host_topology()
    field = {"lab": "release", "host": r"hosts\[0\].release", "environment": "MPCPU_LAB_RELEASE"}
    if where == "lab":
        raw["release"] = value
    elif where == "host":
        raw["hosts"][0]["release"] = value
    else:
        monkeypatch.setenv(topology.RELEASE_VARIABLE, value)
    with pytest.raises(topology.TopologyError, match=field[where]):
        topology.parse(raw)
