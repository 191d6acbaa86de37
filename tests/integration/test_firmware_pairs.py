"""The firmware rollout of hot-standby pairs, through playbooks/firmware.yml, against simulators.

One simulator process plays three pairs and two single CPUs on loopback (127.77.5.x), each
flash taking ``FLASH_SECONDS`` during which the CPU does not answer. The inventory lists the
pairs in the worst order for the batches (A1, A2, A3, B1, B2, B3) and the batch size is 50%.
What happened is read from the simulator's own log (its flash begin/end lines), never from
Ansible's report. Sends traffic only to 127.77.5.0/24 on loopback.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

import ansible_cli

ROOT = ansible_cli.ROOT
FLASH_SECONDS = 1.5
VERSION = "5.2"
IMAGE = b"MPCPU-FW %s\n" % VERSION.encode() + bytes(range(256)) * 64
# name: (address, mate, role at start)
DEVICES = {
    "A1": ("127.77.5.11", "B1", "selected"),
    "A2": ("127.77.5.12", "B2", "standby"),
    "A3": ("127.77.5.13", "B3", "selected"),
    "B1": ("127.77.5.21", "A1", "standby"),
    "B2": ("127.77.5.22", "A2", "selected"),
    "B3": ("127.77.5.23", "A3", "standby"),
    "S1": ("127.77.5.31", "", ""),
    "S2": ("127.77.5.32", "", ""),
}
PAIRS = (("A1", "B1"), ("A2", "B2"), ("A3", "B3"))
FLASH_LINE = re.compile(r"(\S+): flash (begins|ends) at=([0-9.]+)")


def _start_simulator(workdir, faults=(), absent=()):
    config = workdir / "simulator-config.json"
    # a CPU whose mate is absent plays an unpaired one: the simulator links only pairs it has
    devices = [
        {"name": name, "address": ip, "clock_offset": 3600}
        | ({"mate": mate, "role": role} if mate not in absent else {})
        for name, (ip, mate, role) in DEVICES.items()
        if name not in absent
    ]
    defaults = {"log_rate": 0, "flash_seconds": FLASH_SECONDS}
    config.write_text(json.dumps({"defaults": defaults, "devices": devices, "faults": faults}))
    status_file = workdir / "simulator.json"
    log_file = workdir / "simulator.log"
    environment = dict(os.environ, PYTHONPATH="%s/lab" % ROOT)
    argv = [sys.executable, "-m", "mpcpu_sim", "serve", "--config", str(config)]
    argv += ["--status-file", str(status_file)]
    with open(log_file, "w") as log:
        process = subprocess.Popen(argv, env=environment, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("simulator exited: %s" % log_file.read_text())
        try:
            if json.loads(status_file.read_text()).get("running"):
                return process, status_file, log_file
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("simulator not running after 30 s")


@pytest.fixture
def simulator(tmp_path):
    def start(faults=(), absent=()):
        started = _start_simulator(tmp_path, faults, absent)
        processes.append(started[0])
        return started

    processes = []
    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _inventory(tmp_path):
    image = tmp_path / "mpcpu-5.2.bin"
    image.write_bytes(IMAGE)
    firmware = {"file": str(image), "version": VERSION, "sha256": hashlib.sha256(IMAGE).hexdigest()}
    hosts = dict(
        (
            name,
            {
                "mpcpu_ip": ip,
                "mpcpu_mac": "02:00:00:77:05:%02x" % int(ip.rsplit(".", 1)[1]),
                "mpcpu_firmware": firmware,
                **({"mpcpu_mate": mate} if mate else {}),
            },
        )
        for name, (ip, mate, _role) in DEVICES.items()
    )
    site = {
        "name": "pairs",
        "networks": [
            {"name": "cctv", "cidr": "127.77.5.0/25", "kind": "mpcpu"},
            {"name": "office", "cidr": "127.77.5.128/25", "kind": "pc"},
        ],
        "management_networks": ["127.77.5.128/25"],
        "rows": ["time_firmware", "easy_cpu"],
    }
    manager = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "mpcpu_service_ip": "127.77.5.129",
    }
    inventory = {
        "all": {
            "vars": {"mpcpu_site": site},
            "children": {
                "mpcpu": {"hosts": hosts},
                "mpcpu_managers": {"hosts": {"localhost": manager}},
                "mpcpu_easy_consoles": {"hosts": {"localhost": None}},
            },
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def _rollout(tmp_path, *flags):
    return ansible_cli.run(
        "ansible-playbook",
        "-i",
        _inventory(tmp_path),
        ROOT / "playbooks" / "firmware.yml",
        "-e",
        "site_firmware_batch_size=50%",
        # the image cache of the management host, in the test's directory
        "-e",
        "__devices_image=%s/cache/{{ __devices_firmware.file | basename }}" % tmp_path,
        *flags,
        timeout=600,
    )


def _flashes(log_file):
    """{device: [(begin, end)]} from the simulator's own log lines."""
    begun, flashes = {}, {}
    for name, what, moment in FLASH_LINE.findall(log_file.read_text()):
        if what == "begins":
            begun[name] = float(moment)
        else:
            flashes.setdefault(name, []).append((begun.pop(name), float(moment)))
    assert not begun, "flashes that never ended: %s" % begun
    return flashes


def _status(status_file):
    time.sleep(0.3)  # the status file is rewritten within 0.1 s of a change
    return json.loads(status_file.read_text())["devices"]


def test_check_mode_shows_standby_cpus_first_and_flashes_nothing(tmp_path, simulator):
    _process, status_file, log_file = simulator()
    completed = _rollout(tmp_path, "--check")
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    words = " ".join(output.split())  # the callback wraps long lines
    assert "first wave (standby and unpaired CPUs): A2, B1, B3, S1, S2'" in words
    assert "version): A1, A3, B2'" in words
    assert "WARNING" not in words
    assert _flashes(log_file) == {}
    assert all(device["firmware"]["version"] == "4.0" for device in _status(status_file).values())


def test_no_moment_has_both_cpus_of_a_pair_flashing_in_the_worst_order(tmp_path, simulator):
    _process, status_file, log_file = simulator()
    completed = _rollout(tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    flashes = _flashes(log_file)
    assert sorted(flashes) == sorted(DEVICES)
    for first, second in PAIRS:
        for begin, end in flashes[first]:
            for other_begin, other_end in flashes[second]:
                assert end <= other_begin or other_end <= begin, (first, second, flashes)
    devices = _status(status_file)
    # the standby went first; the selected one handed over when it went: now its mate runs
    assert [devices[name]["selected"] for name in ("A1", "B1", "A2", "B2")] == [
        False,
        True,
        True,
        False,
    ]
    assert "switch-over" in log_file.read_text()
    assert set(device["firmware"]["version"] for device in devices.values()) == {VERSION}


def test_a_flash_failing_on_the_first_cpu_of_a_pair_leaves_its_mate_untouched(tmp_path, simulator):
    failing = {
        "action": "error",
        "file": "firmware.bin",
        "code": 3,
        "device": "B1",
        "message": "flash refused",
    }
    _process, status_file, log_file = simulator(faults=[failing])
    completed = _rollout(tmp_path)
    assert completed.returncode != 0, completed.stdout
    assert "B1" in completed.stdout and "flash refused" in completed.stdout
    time.sleep(FLASH_SECONDS)  # a CPU of B1's batch may still be flashing: let it end
    devices = _status(status_file)
    assert devices["A1"]["firmware"]["version"] == "4.0"
    assert devices["A1"]["selected"] is True
    flashes = _flashes(log_file)
    assert "A1" not in flashes and "B1" not in flashes
    assert all(not (first in flashes and second in flashes) for first, second in PAIRS)
    # the second wave never started: no selected CPU was touched
    assert all(devices[name]["firmware"]["version"] == "4.0" for name in ("A1", "A3", "B2"))


def test_time_is_set_on_a_cpu_whose_mate_does_not_answer(tmp_path, simulator):
    _process, status_file, _log_file = simulator(absent=["A1"])
    completed = ansible_cli.run(
        "ansible-playbook",
        "-i",
        _inventory(tmp_path),
        ROOT / "playbooks" / "site.yml",
        "--tags",
        "time",
        timeout=600,
    )
    assert completed.returncode != 0  # A1 does not answer
    devices = _status(status_file)
    assert "A1" not in devices
    # B1 (its mate) and every other CPU were set: an hour off before, in step now
    assert all(abs(device["clock_offset"]) < 5 for device in devices.values()), devices
