"""The ``serve`` command: configuration, ports from the table, clean stop, clear refusals."""

import json
import os
import socket
import subprocess
import sys

import pytest

from mpcpu_sim.table import SERVED_ROWS, appendix_d
from tests.unit.sim.conftest import ANY_PORTS, WRAPPER, read_file

HERE = os.path.dirname(os.path.abspath(__file__))


def serve_and_fail(*arguments):
    argv = [WRAPPER, "serve", *ANY_PORTS, *arguments]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr


def test_sigterm_stops_cleanly_even_with_a_collector_connected(start_simulator):
    simulator = start_simulator("--address", "cpu001=127.0.8.1")
    address = (simulator.address("cpu001"), simulator.port("cpu001", "activity_logging"))
    with socket.create_connection(address, timeout=10) as collector:
        collector.sendall(b"LOG 1\r\n")
        assert collector.makefile("rb").readline().startswith(b"1 ")
        assert simulator.stop() == 0
    assert simulator.status()["running"] is False
    assert "stopped" in simulator.stderr()


def test_config_file_defaults_devices_and_their_own_faults(start_simulator, tmp_path):
    config = {
        "defaults": {"firmware_version": "4.1", "easy_cpu_replies": 2},
        "faults": [{"action": "error", "device": "garage", "code": 2, "message": "locked"}],
        "devices": [
            {"name": "lobby", "address": "127.0.8.2", "firmware_version": "4.3"},
            {"name": "garage", "address": "127.0.8.3"},
            {"address": "127.0.8.4", "faults": [{"action": "error", "code": 0}]},
        ],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    simulator = start_simulator("--config", str(path), "--set", "easy_cpu_replies=4")
    status = simulator.status()["devices"]
    assert sorted(status) == ["cpu003", "garage", "lobby"]
    assert (status["lobby"]["firmware"]["version"], status["garage"]["firmware"]["version"]) == (
        "4.3",
        "4.1",
    )
    assert read_file(simulator.tftp_client("lobby"), "firmware.version").startswith(b"version=4.3")
    for name in ("garage", "cpu003"):
        with pytest.raises(Exception, match="ERROR"):
            read_file(simulator.tftp_client(name, retries=1), "mpcpu_time.txt")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--address", "127.0.8.5", "--set", "colour=blue"], "unknown device setting 'colour'"),
        (["--address", "127.0.8.5", "--set", "rollover=2"], "rollover=2"),
        (["--address", "127.0.8.5", "--fault", "explode:nth=1"], "action='explode'"),
        (["--address", "127.0.8.5", "--fault", "drop:packet=rrq:colour=1"], "unknown key"),
        (["--address", "127.0.8.5", "--address", "127.0.8.5"], "share the address"),
        (["--address", "not-an-address"], "not-an-address"),
        ([], "no device"),
    ],
)
def test_bad_command_lines_are_refused_with_the_reason(arguments, message):
    status, stderr = serve_and_fail(*arguments)
    assert status == 2
    assert message in stderr


def test_a_port_already_in_use_is_reported(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.8.6", 0))
        port = taken.getsockname()[1]
        argv = [WRAPPER, "serve", *ANY_PORTS, "--port", "time_firmware=%d" % port]
        argv += ["--address", "127.0.8.6"]
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot listen on 127.0.8.6 port %d/udp" % port in done.stderr


def test_without_overrides_the_devices_listen_on_the_table_ports():
    argv = ["unshare", "-n", sys.executable, os.path.join(HERE, "netns_driver.py"), "default-ports"]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=180)
    outcome = json.loads(done.stdout)
    assert outcome["ports"] == {row: appendix_d.row(row).mpcpu_port for row in SERVED_ROWS}
    assert len(outcome["time"]) == len("2026-01-01T00:00:00\n")
    assert outcome["status_reply"].startswith("MPCPU cpu001 127.0.0.2 STATUS 1/3 ")
    assert outcome["log_line"].startswith("1 ")
    assert outcome["rc"] == 0
