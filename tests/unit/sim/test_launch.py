"""The simulator launcher shared by integration tests and benchmarks (lab/mpcpu_sim/launch.py)."""

import pytest

from mpcpu_sim import launch


def test_fleet_addresses_fill_blocks_of_250_and_skip_0_and_255():
    addresses = launch.fleet_addresses(252)
    assert addresses[:2] == ["127.77.1.1", "127.77.1.2"]
    assert addresses[249] == "127.77.1.250"
    assert addresses[250:] == ["127.77.2.1", "127.77.2.2"]


def test_address_arguments_give_one_range_per_block():
    addresses = launch.fleet_addresses(252, first="127.77.8.1")
    assert launch.address_arguments(addresses) == [
        "--address",
        "127.77.8.1-127.77.8.250",
        "--address",
        "127.77.9.1-127.77.9.2",
    ]


@pytest.mark.parametrize(
    ("config", "arguments"),
    [
        ({"devices": [{"name": "A1", "address": "198.51.100.10"}]}, []),
        (None, ["--address", "127.77.1.1-127.77.1.2", "--address", "X=198.51.100.10"]),
    ],
)
def test_a_device_off_loopback_is_refused_before_anything_starts(tmp_path, config, arguments):
    with pytest.raises(ValueError, match="loopback devices only.*198.51.100.10"):
        launch.Simulator(tmp_path, config=config, arguments=arguments)
    assert list(tmp_path.iterdir()) == []


def test_a_simulator_runs_reports_its_devices_and_stops(tmp_path):
    config = {"defaults": {"log_rate": 0}, "devices": [{"name": "A1", "address": "127.77.4.1"}]}
    with launch.Simulator(tmp_path, config=config) as simulator:
        assert simulator.devices()["A1"]["firmware"]["version"] == "4.0"
        assert simulator.cpu_seconds() >= 0
    assert simulator.process.poll() is not None
