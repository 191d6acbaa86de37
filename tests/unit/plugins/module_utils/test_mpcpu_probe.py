"""Flow probes on loopback: against the simulator for the PC-side rows, against real servers
(tftpy, an SNTP responder) for the MPCPU-side ones, and failures reported, never raised."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import tftpy

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d, mpcpu_probe
from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import sntp
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

ROOT = pathlib.Path(__file__).resolve().parents[4]
# A block of loopback addresses per pytest-xdist worker: two workers' simulators would otherwise
# bind the same address and port at once (ansible-test runs the units with -n auto).
_BLOCK = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").lstrip("gw") or 0)
DEVICE = "127.78.%d.10" % _BLOCK
PC = "127.78.%d.20" % _BLOCK
OPTIONS = {
    "timeout": 3.0,
    "time_file": "mpcpu_time.txt",
    "time_format": "%Y-%m-%dT%H:%M:%S",
    "easy_cpu_payload": "STATUS\r\n",
    "alarm_recipient": "alarms@mpcpu.example",
    "dhcp_interface": None,
}


def flow(row_id, **changes):
    table_row = appendix_d.row(row_id)
    base = {
        "row": row_id,
        "mpcpu": "cpu-a",
        "mpcpu_ip": DEVICE,
        "mpcpu_mac": "02:00:00:00:00:10",
        "mpcpu_port": table_row.mpcpu_port,
        "pc_host": "pc",
        "pc_ip": PC,
        "pc_port": table_row.pc_port,
    }
    base.update(changes)
    return base


# One simulator per test: ansible-test runs each test in a forked process, where a wider
# fixture would be started again for every test and never stopped.
@pytest.fixture
def simulator(tmp_path):
    yield from _simulator(tmp_path)


# The simulator speaking another dialect: the device-side settings its flows carry.
DIALECT = {"status_request": "HELLO", "log_request": "GET {seq}", "time_file": "clock.dat"}
DIALECT_FLOW = {
    "easy_cpu": {"status_request": "HELLO"},
    "activity_logging": {"activity_log_request": "GET {seq}\r\n"},
    "time_firmware": {"time_file": "clock.dat", "time_format": "%Y-%m-%dT%H:%M:%S"},
}


@pytest.fixture
def dialect_simulator(tmp_path):
    yield from _simulator(tmp_path, *("--set=%s=%s" % item for item in DIALECT.items()))


def _simulator(tmp_path, *settings):
    status_file = tmp_path / "status.json"
    # The caller's path too: under ansible-test it holds the collection's ansible_collections.
    python_path = [str(ROOT / "lab"), str(ROOT / "collections"), os.environ.get("PYTHONPATH", "")]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(python_path))
    argv = [sys.executable, "-m", "mpcpu_sim", "serve", "--address", "cpu-a=" + DEVICE]
    argv += ["--status-file", str(status_file), *settings]
    process = subprocess.Popen(argv, env=environment, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _running(status_file):
            assert process.poll() is None, "the simulator exited"
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def _running(status_file):
    try:
        return json.loads(status_file.read_text()).get("running")
    except (OSError, ValueError):
        return False


@pytest.mark.usefixtures("simulator")
@pytest.mark.parametrize("row_id", ["activity_logging", "easy_cpu", "time_firmware"])
def test_pc_side_rows_pass_against_a_device(row_id):
    result = mpcpu_probe.probe(flow(row_id), OPTIONS)
    assert result["passed"], result["detail"]
    assert (result["mpcpu"], result["row"]) == ("cpu-a", row_id)


@pytest.mark.usefixtures("dialect_simulator")
@pytest.mark.parametrize("row_id", sorted(DIALECT_FLOW))
def test_a_probe_speaks_the_settings_its_flow_carries(row_id):
    dialect = flow(row_id, device_protocol=DIALECT_FLOW[row_id])
    result = mpcpu_probe.probe(dialect, dict(OPTIONS, timeout=1.5))
    assert result["passed"], result["detail"]
    # the module's defaults (a flow without settings) are another dialect: no usable answer
    assert not mpcpu_probe.probe(flow(row_id), dict(OPTIONS, timeout=1.5))["passed"]


@pytest.mark.usefixtures("simulator")
def test_a_device_that_does_not_answer_fails_with_what_was_seen():
    result = mpcpu_probe.probe(flow("easy_cpu", mpcpu_ip="127.78.0.99"), dict(OPTIONS, timeout=0.3))
    assert not result["passed"]
    assert result["detail"].startswith("pc: no reply within 0.3 s")


@pytest.mark.usefixtures("simulator")
def test_a_snapshot_the_receiver_refuses_fails():
    # The simulated MPCPU's TFTP server only takes firmware: an upload of a JPEG is refused.
    refused = flow("snapshot", pc_ip=DEVICE, pc_port=appendix_d.row("time_firmware").mpcpu_port)
    result = mpcpu_probe.probe(dict(refused, mpcpu_ip="127.78.0.11", mpcpu_port=0), OPTIONS)
    assert not result["passed"]


def test_a_snapshot_lands_on_a_real_tftp_server_from_the_device_address(tmp_path):
    # tftpy answers from an unbound socket, so from 127.0.0.1: listen there for a clean TID.
    server = tftpy.TftpServer(str(tmp_path))
    thread = threading.Thread(target=server.listen, args=("127.0.0.1", 6969), daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        snapshot = flow("snapshot", pc_ip="127.0.0.1", pc_port=6969, mpcpu_port=0)
        result = mpcpu_probe.probe(snapshot, OPTIONS)
    finally:
        server.stop(now=True)
        thread.join(5)
    assert result["passed"], result["detail"]
    (uploaded,) = tmp_path.glob("verify_cpu-a_*.jpg")
    assert uploaded.read_bytes() == mpcpu_probe.PROBE_JPEG


@pytest.fixture
def sntp_responder():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((PC, 0))
    sock.settimeout(5)
    senders = []

    def answer():
        data, peer = sock.recvfrom(512)
        senders.append(peer)
        now = sntp.to_ntp(time.time())
        head = bytes([4 << 3 | 4, 3, 6, 0xEC]) + bytes(8) + socket.inet_aton(PC)
        sock.sendto(head + now + data[40:48] + now + now, peer)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], senders
    finally:
        thread.join(5)
        sock.close()


def test_ntp_is_asked_from_the_device_address(sntp_responder):
    port, senders = sntp_responder
    result = mpcpu_probe.probe(flow("ntp", pc_port=port, mpcpu_port=0), OPTIONS)
    assert result["passed"], result["detail"]
    assert "stratum 3" in result["detail"]
    assert senders[0][0] == DEVICE


def test_probes_that_leave_traces_do_not_run_in_check_mode():
    for row_id in mpcpu_probe.LEAVES_TRACES:
        result = mpcpu_probe.probe(flow(row_id), OPTIONS, check_mode=True)
        assert result == dict(
            mpcpu="cpu-a", row=row_id, pc_host="pc", passed=False, detail="not probed in check mode"
        )


def test_dhcp_without_an_interface_says_which_parameter_is_missing():
    result = mpcpu_probe.probe(flow("ip_assignment"), OPTIONS)
    assert not result["passed"]
    assert "dhcp_interface" in result["detail"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"row": "telnet"}, r"probes\[0\]\.row"),
        ({"mpcpu_ip": ""}, r"probes\[0\]\.mpcpu_ip"),
        ({"row": "ip_assignment", "mpcpu_mac": None}, r"probes\[0\]\.mpcpu_mac"),
    ],
)
def test_malformed_probes_are_refused_naming_the_field(bad, field):
    with pytest.raises(MpcpuError, match=field):
        mpcpu_probe.run(dict(OPTIONS, probes=[flow("ntp", **bad)]))
