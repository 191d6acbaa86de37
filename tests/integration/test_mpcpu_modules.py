"""The mpcpu_* modules through real `ansible` and `ansible-playbook` against the MPCPU simulator.

One simulator process plays a few MPCPUs on loopback addresses (127.77.0.x). What the modules
did is checked from outside: with tftpy (an independent TFTP client) and the simulator's
status file, never only with the modules' own report.
"""

import datetime
import hashlib
import io
import json
import logging
import os
import pathlib
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
import tftpy

import ansible_cli
from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import sntp
from mpcpu_sim import launch

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
TFTP_PORT = appendix_d.row("time_firmware").mpcpu_port
HOUR = 3600
DEVICES = {
    # name: (address, device clock minus the machine's in seconds, other device settings)
    "clock": ("127.77.0.10", HOUR, {}),
    "check": ("127.77.0.11", 600, {}),
    "fleet1": ("127.77.0.12", HOUR, {}),
    "fleet2": ("127.77.0.13", 2 * HOUR, {}),
    "fleet3": ("127.77.0.14", 0, {}),
    "firmware": ("127.77.0.15", 0, {}),
    "refuse": ("127.77.0.16", 0, {}),
    "status": ("127.77.0.17", 0, {}),
    "ntp": ("127.77.0.18", 0, {}),
    "explicit": ("127.77.0.19", 0, {}),
    "plain": ("127.77.0.20", 0, {"ignore_options": "all"}),  # an old TFTP server: no OACK
    "defaults": ("127.77.0.21", 0, {}),
}
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
FIRMWARE_VERSION = "5.1"
IMAGE = b"MPCPU-FW %s\n" % FIRMWARE_VERSION.encode() + bytes(range(256)) * (3 * 4096)  # 3 MiB
IMAGE_SHA256 = hashlib.sha256(IMAGE).hexdigest()
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def address(name):
    return DEVICES[name][0]


# --- the simulator --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    devices = [
        dict(settings, name=name, address=ip, clock_offset=offset)
        for name, (ip, offset, settings) in DEVICES.items()
    ]
    config = {"defaults": {"log_rate": 5}, "devices": devices}
    running = launch.Simulator(tmp_path_factory.mktemp("simulator"), config=config)
    try:
        yield running.start(30)
    finally:
        running.stop()


# --- running the modules --------------------------------------------------------------------


def run_module(tmp_path, module, args, *flags, prefix=()):
    """(return code, result) of one ad-hoc run on the controller (implicit localhost)."""
    tree = tmp_path / ("tree-%d" % time.monotonic_ns())
    argv = [*prefix, "ansible", "localhost", "-m", "megapower.mpcpu." + module]
    argv += ["-a", json.dumps(args), "-t", str(tree), *flags]
    completed = subprocess.run(
        argv,
        cwd=ROOT,
        env=ansible_cli.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result_file = tree / "localhost"
    assert result_file.exists(), completed.stdout + completed.stderr
    result = json.loads(result_file.read_text())
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output
    result["_output"] = output  # what the operator sees, diff included
    return completed.returncode, result


def succeeds(tmp_path, module, args, *flags):
    returncode, result = run_module(tmp_path, module, args, *flags)
    assert returncode == 0, result
    return result


def fails(tmp_path, module, args, *flags, prefix=()):
    returncode, result = run_module(tmp_path, module, args, *flags, prefix=prefix)
    assert returncode != 0, result
    return result


def run_playbook(tmp_path, playbook, *flags):
    """{host: (ok, changed, failed)} from the play recap."""
    completed = subprocess.run(
        ["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(playbook), *flags],
        cwd=ROOT,
        env=ansible_cli.environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return {
        host: (int(ok), int(changed), int(unreachable) + int(failed))
        for host, ok, changed, unreachable, failed in RECAP.findall(completed.stdout)
    }


# --- seen from outside ----------------------------------------------------------------------


def tftp_read(device, filename):
    """The file as tftpy (an independent implementation) reads it from the device."""
    logging.getLogger("tftpy").setLevel(logging.WARNING)
    content = io.BytesIO()
    tftpy.TftpClient(address(device), TFTP_PORT).download(filename, content, timeout=2)
    return content.getvalue()


def device_clock_offset(device):
    """Device clock minus the machine's clock, in whole seconds (within a second)."""
    before = time.time()
    text = tftp_read(device, "mpcpu_time.txt").decode("ascii").strip()
    after = time.time()
    shown = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    shown = shown.replace(tzinfo=datetime.UTC).timestamp()
    return shown + 0.5 - (before + after) / 2


def device_firmware(device):
    lines = tftp_read(device, "firmware.version").decode("ascii").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "mpcpu-5.1.bin"
    path.write_bytes(IMAGE)
    return str(path)


# --- mpcpu_time -----------------------------------------------------------------------------


def test_time_is_set_read_back_and_left_alone_the_second_time(simulator, tmp_path):
    assert abs(device_clock_offset("clock") - HOUR) < 2
    first = succeeds(tmp_path, "mpcpu_time", {"host": address("clock")})
    assert first["changed"] is True
    assert first["drift_seconds"] == pytest.approx(HOUR, abs=2)
    assert abs(first["drift_after_seconds"]) <= 2
    assert abs(device_clock_offset("clock")) < 2
    second = succeeds(tmp_path, "mpcpu_time", {"host": address("clock")})
    assert second["changed"] is False
    assert simulator.devices()["clock"]["counters"]["tftp_wrq"] == 1


def test_check_mode_reports_the_drift_and_changes_nothing(simulator, tmp_path):
    result = succeeds(tmp_path, "mpcpu_time", {"host": address("check")}, "--check", "--diff")
    assert result["changed"] is True
    assert result["drift_seconds"] == pytest.approx(600, abs=2)
    assert re.search(r"^-\s+time: '\S+Z'$", result["_output"], re.M)
    assert re.search(r"^\+\s+time: '\S+Z'$", result["_output"], re.M)
    assert abs(device_clock_offset("check") - 600) < 2
    assert "tftp_wrq" not in simulator.devices()["check"]["counters"]


def test_state_read_only_reads(simulator, tmp_path):
    result = succeeds(tmp_path, "mpcpu_time", {"host": address("check"), "state": "read"})
    assert result["changed"] is False
    assert result["drift_seconds"] == pytest.approx(600, abs=2)
    assert abs(device_clock_offset("check") - 600) < 2


def test_explicit_time_is_what_the_device_then_shows(simulator, tmp_path):
    args = {"host": address("explicit"), "source": "explicit", "time": "2030-01-01T00:00:00"}
    result = succeeds(tmp_path, "mpcpu_time", args)
    assert result["device_time_after"].startswith("2030-01-01T00:00:0")
    shown = tftp_read("explicit", "mpcpu_time.txt").decode()
    assert shown.startswith("2030-01-01T00:00:0")


def test_bad_host_is_refused_naming_the_field(simulator, tmp_path):
    result = fails(tmp_path, "mpcpu_time", {"host": "198.51.100.300"})
    assert result["msg"] == "host: '198.51.100.300' is not an IPv4 or IPv6 address"


def test_an_option_the_tftp_client_refuses_is_named(simulator, tmp_path):
    result = fails(tmp_path, "mpcpu_time", {"host": address("clock"), "retries": 5000})
    assert result["msg"].startswith("retries ")


def test_a_silent_device_fails_with_host_and_file_named(simulator, tmp_path):
    result = fails(tmp_path, "mpcpu_time", {"host": "127.77.0.99", "timeout": 0.2, "retries": 1})
    assert result["msg"].startswith(
        "host: reading mpcpu_time.txt from 127.77.0.99 port %d" % TFTP_PORT
    )


@pytest.fixture
def sntp_server():
    """An SNTP server on loopback whose clock runs one day ahead of the machine's."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.77.0.250", 0))
    sock.settimeout(0.2)
    stopping = threading.Event()

    def serve():
        while not stopping.is_set():
            try:
                data, peer = sock.recvfrom(512)
            except OSError:
                continue
            now = sntp.to_ntp(time.time() + 86400)
            head = bytes([4 << 3 | 4, 2, 6, 0xEC]) + bytes(8) + b"TEST"
            sock.sendto(head + now + data[40:48] + now + now, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stopping.set()
        thread.join(5)
        sock.close()


def test_ntp_source_sets_the_servers_time(simulator, tmp_path, sntp_server):
    server, port = sntp_server
    args = {"host": address("ntp"), "source": "ntp", "ntp_server": server, "ntp_port": port}
    result = succeeds(tmp_path, "mpcpu_time", args)
    assert result["ntp_offset_seconds"] == pytest.approx(86400, abs=0.5)
    assert abs(device_clock_offset("ntp") - 86400) < 2


def test_a_fleet_playbook_sets_each_clock_once(simulator, tmp_path):
    fleet = ("fleet1", "fleet2", "fleet3")
    hosts = {name: {"mpcpu_ip": address(name)} for name in fleet}
    (tmp_path / "hosts.yml").write_text(
        json.dumps({"all": {"children": {"mpcpu": {"hosts": hosts}}}})
    )
    playbook = tmp_path / "time.yml"
    playbook.write_text(
        "- hosts: mpcpu\n  gather_facts: false\n  tasks:\n"
        "    - megapower.mpcpu.mpcpu_time:\n        host: '{{ mpcpu_ip }}'\n"
        "      delegate_to: localhost\n"
    )
    checked = run_playbook(tmp_path, playbook, "--check")
    assert checked == {"fleet1": (1, 1, 0), "fleet2": (1, 1, 0), "fleet3": (1, 0, 0)}
    assert device_clock_offset("fleet2") == pytest.approx(2 * HOUR, abs=2)
    first = run_playbook(tmp_path, playbook)
    assert first == {"fleet1": (1, 1, 0), "fleet2": (1, 1, 0), "fleet3": (1, 0, 0)}
    second = run_playbook(tmp_path, playbook)
    assert all(changed == 0 for _ok, changed, _failed in second.values())
    assert all(abs(device_clock_offset(name)) < 2 for name in fleet)


# --- mpcpu_firmware -------------------------------------------------------------------------


def test_firmware_is_pushed_verified_left_alone_and_forced(simulator, tmp_path, image):
    args = {"host": address("firmware"), "src": image, "sha256": IMAGE_SHA256, "version": "5.1"}
    checked = succeeds(tmp_path, "mpcpu_firmware", args, "--check")
    assert checked["changed"] is True
    assert checked["msg"].startswith(
        "would send %d bytes (sha256 %s) to %s port %d as firmware.bin"
        % (len(IMAGE), IMAGE_SHA256, address("firmware"), TFTP_PORT)
    )
    assert device_firmware("firmware")["sha256"] == EMPTY_SHA256

    pushed = succeeds(tmp_path, "mpcpu_firmware", args)
    assert pushed["changed"] is True
    assert pushed["bytes"] == len(IMAGE)
    assert pushed["options"]["blksize"] == 1428
    assert pushed["throughput_bytes_per_s"] > 0
    assert pushed["device_sha256_after"] == IMAGE_SHA256
    assert device_firmware("firmware") == {
        "version": FIRMWARE_VERSION,
        "sha256": IMAGE_SHA256,
        "size": str(len(IMAGE)),
    }

    again = succeeds(tmp_path, "mpcpu_firmware", args)
    assert again["changed"] is False
    assert again["bytes"] == 0

    forced = succeeds(tmp_path, "mpcpu_firmware", dict(args, force=True, windowsize=8))
    assert forced["changed"] is True
    assert forced["bytes"] == len(IMAGE)
    assert simulator.devices()["firmware"]["counters"]["tftp_wrq"] == 2


def test_firmware_push_falls_back_to_512_when_the_device_ignores_options(simulator, tmp_path):
    other = tmp_path / "other.bin"
    other.write_bytes(b"MPCPU-FW 5.2\n" + os.urandom(100000))
    result = succeeds(tmp_path, "mpcpu_firmware", {"host": address("plain"), "src": str(other)})
    assert result["changed"] is True
    assert result["options"] == {}
    assert result["blksize"] == 512
    assert device_firmware("plain") == {
        "version": "5.2",
        "sha256": hashlib.sha256(other.read_bytes()).hexdigest(),
        "size": str(len(other.read_bytes())),
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", r"^src: \S+/empty.bin is empty$"),
        ("oversized", r"^src: \S+/mpcpu-5.1.bin is \d+ bytes, more than max_size \(1048576\)$"),
        (
            "bad_sha256",
            r"^sha256: \S+/mpcpu-5.1.bin has sha256 [0-9a-f]{64}, not the expected 0{64}$",
        ),
        ("missing", r"^src: cannot read \S+/missing.bin: No such file or directory$"),
        ("unreadable", r"^src: cannot read \S+/unreadable.bin: Permission denied$"),
    ],
)
def test_firmware_refusals_name_the_field_and_send_nothing(
    simulator, tmp_path, image, case, message
):
    args = {"host": address("refuse"), "src": image}
    prefix = ()
    if case == "empty":
        (tmp_path / "empty.bin").write_bytes(b"")
        args["src"] = str(tmp_path / "empty.bin")
    elif case == "oversized":
        args["max_size"] = 1048576
    elif case == "bad_sha256":
        args["sha256"] = "0" * 64
    elif case == "missing":
        args["src"] = str(tmp_path / "missing.bin")
    else:
        unreadable = tmp_path / "unreadable.bin"
        shutil.copy(image, unreadable)
        unreadable.chmod(0)
        args["src"] = str(unreadable)
        # root reads any file: drop the capabilities that let it, as an operator account is
        prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    result = fails(tmp_path, "mpcpu_firmware", args, prefix=prefix)
    assert re.match(message, result["msg"]), result["msg"]
    counters = simulator.devices()["refuse"]["counters"]
    assert "tftp_wrq" not in counters
    assert "tftp_rrq" not in counters  # refused before the device was even asked


# --- mpcpu_status ---------------------------------------------------------------------------


def test_status_collects_every_reply_and_reaches_the_activity_log(simulator, tmp_path):
    args = {
        "host": address("status"),
        "activity_log_request": "LOG 1\r\n",
        "activity_log_read_line": True,
    }
    result = succeeds(tmp_path, "mpcpu_status", args)
    assert result["changed"] is False
    assert result["reply_count"] == 3
    assert [reply.split()[4] for reply in result["replies"]] == ["1/3", "2/3", "3/3"]
    assert all(reply.startswith("MPCPU status 127.77.0.17 STATUS") for reply in result["replies"])
    assert result["activity_log"]["reachable"] is True
    assert re.match(r"^\d+ \S+ status ", result["activity_log"]["first_line"])
    assert simulator.devices()["status"]["counters"]["easy_cpu_requests"] == 1


def test_status_with_too_few_replies_fails_naming_expect_replies(simulator, tmp_path):
    args = {"host": address("status"), "expect_replies": 5, "timeout": 1.0}
    result = fails(tmp_path, "mpcpu_status", args)
    assert result[
        "msg"
    ] == "expect_replies: 3 of 5 replies from UDP 127.77.0.17 port %d within 1.0 s" % (
        appendix_d.row("easy_cpu").mpcpu_port
    )
    assert result["changed"] is False


# --- module_defaults through the action groups ------------------------------------------------

MODULE_DEFAULTS_PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/megapower.mpcpu.mpcpu:
      host: %(host)s
  tasks:
    - name: Status of the MPCPU named only in module_defaults
      megapower.mpcpu.mpcpu_status:
        check_activity_log: false
      register: status
    - name: Its clock, read over TFTP
      megapower.mpcpu.mpcpu_time:
        state: read
      register: clock
    # A task's entry for a group replaces the play's entry for that group; the host still
    # comes from the play's entry for group mpcpu.
    - name: TFTP port, timeout and retries given for the group reach the module
      megapower.mpcpu.mpcpu_time:
        state: read
      module_defaults:
        group/megapower.mpcpu.mpcpu_tftp:
          port: %(silent_port)d
          timeout: 0.5
          retries: 1
      register: silent
      ignore_errors: true
    - name: Keep what the modules returned
      ansible.builtin.copy:
        content: "{{ {'status': status, 'clock': clock, 'silent': silent} | to_json }}"
        dest: %(results)s
        mode: "0644"
"""


def test_module_defaults_set_host_port_timeout_and_retries_once(simulator, tmp_path):
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    results = tmp_path / "results.json"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent_device:
        silent_device.bind((address("defaults"), 0))
        playbook = tmp_path / "defaults.yml"
        playbook.write_text(
            MODULE_DEFAULTS_PLAY
            % {
                "host": address("defaults"),
                "silent_port": silent_device.getsockname()[1],
                "results": results,
            }
        )
        run_playbook(tmp_path, playbook)
        silent_port = silent_device.getsockname()[1]
    seen = json.loads(results.read_text())
    assert seen["status"]["reply_count"] >= 1
    assert all(address("defaults") in reply for reply in seen["status"]["replies"])
    assert seen["clock"]["device_time_before"].endswith("Z")
    counters = simulator.devices()["defaults"]["counters"]
    assert counters["easy_cpu_requests"] == 1
    assert counters["tftp_rrq"] == 1
    assert seen["silent"]["failed"] is True
    assert "%s port %d" % (address("defaults"), silent_port) in seen["silent"]["msg"]
    assert "timeout=0.5s, retries=1" in seen["silent"]["msg"]
