"""The firmware rollout of hot-standby pairs, through playbooks/firmware.yml, against simulators.

One simulator process plays three pairs and two single CPUs on loopback (127.77.5.x), each
flash taking ``FLASH_SECONDS`` during which the CPU does not answer. The inventory lists the
pairs in the worst order for the batches (A1, A2, A3, B1, B2, B3) and the batch size is 50%.
What happened is read from the simulator's own log (its flash begin/end lines), never from
Ansible's report. Sends traffic only to 127.77.5.0/24 and 127.77.6.0/24 on loopback.

The time run with a CPU that does not answer waits out that CPU's retransmissions (about
50 s): it runs in the background, on a simulator and addresses of its own (127.77.6.x), from
the module's start, while the firmware runs go on.
"""

import hashlib
import re
import subprocess
import time

import pytest
import yaml

import ansible_cli
from mpcpu_sim import launch

ROOT = ansible_cli.ROOT
FLASH_SECONDS = 0.5  # long enough for the overlap check: a batch flashes at once
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
# The simulator's line for each finished transfer: the options it agreed to, and the names
# of those the client asked for.
TRANSFER_LINE = re.compile(
    r"(\S+): (wrq|rrq) firmware\.bin from \S+ \d+ bytes in \S+ s "
    r"\(blksize (\d+), windowsize (\d+); asked (\S+)\)"
)
# Device-protocol TFTP options: the site asks for smaller blocks, S2 alone for windows.
SITE_PROTOCOL = {"firmware_blksize": 1024}
OWN_PROTOCOL = {"S2": {"firmware_windowsize": 8}}


def _simulator_config(faults=(), absent=(), subnet=5):
    # a CPU whose mate is absent plays an unpaired one: the simulator links only pairs it has
    devices = [
        {"name": name, "address": _address(ip, subnet), "clock_offset": 3600}
        | ({"mate": mate, "role": role} if mate not in absent else {})
        for name, (ip, mate, role) in DEVICES.items()
        if name not in absent
    ]
    defaults = {"log_rate": 0, "flash_seconds": FLASH_SECONDS}
    return {"defaults": defaults, "devices": devices, "faults": list(faults)}


def _address(ip, subnet):
    """``ip`` moved to 127.77.<subnet>.x."""
    return ip.replace("127.77.5.", "127.77.%d." % subnet)


@pytest.fixture
def simulator(tmp_path):
    started = []

    def start(faults=()):
        running = launch.Simulator(tmp_path, config=_simulator_config(faults)).start(30)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def _inventory(tmp_path, subnet=5):
    image = tmp_path / "mpcpu-5.2.bin"
    image.write_bytes(IMAGE)
    firmware = {"file": str(image), "version": VERSION, "sha256": hashlib.sha256(IMAGE).hexdigest()}
    hosts = dict(
        (
            name,
            {
                "mpcpu_ip": _address(ip, subnet),
                "mpcpu_mac": "02:00:00:77:%02x:%02x" % (subnet, int(ip.rsplit(".", 1)[1])),
                "mpcpu_firmware": firmware,
                **({"mpcpu_mate": mate} if mate else {}),
                **({"mpcpu_device_protocol": OWN_PROTOCOL[name]} if name in OWN_PROTOCOL else {}),
            },
        )
        for name, (ip, mate, _role) in DEVICES.items()
    )
    site = launch.loopback_site("pairs", "127.77.%d" % subnet, ["time_firmware", "easy_cpu"])
    site["device_protocol"] = SITE_PROTOCOL
    inventory = launch.controller_inventory(site, hosts, "127.77.%d.129" % subnet)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def _rollout(tmp_path, *flags, batch_size="50%"):
    return ansible_cli.run(
        "ansible-playbook",
        "-i",
        _inventory(tmp_path),
        ROOT / "playbooks" / "firmware.yml",
        "-e",
        "site_firmware_batch_size=%s" % batch_size,
        # the image cache of the management host, in the test's directory
        "-e",
        "__devices_image=%s/cache/{{ __devices_firmware.file | basename }}" % tmp_path,
        *flags,
        timeout=600,
    )


def _flashes(simulator):
    """{device: [(begin, end)]} from the simulator's own log lines."""
    begun, flashes = {}, {}
    for name, what, moment in FLASH_LINE.findall(simulator.log_text()):
        if what == "begins":
            begun[name] = float(moment)
        else:
            flashes.setdefault(name, []).append((begun.pop(name), float(moment)))
    assert not begun, "flashes that never ended: %s" % begun
    return flashes


@pytest.fixture(scope="module", autouse=True)
def absent_mate_time_run(tmp_path_factory):
    """site.yml's time play with A1 absent, started at the module's start: (simulator, process,
    output file)."""
    workdir = tmp_path_factory.mktemp("absent-mate")
    config = _simulator_config(absent=["A1"], subnet=6)
    simulator = launch.Simulator(workdir, config=config).start(30)
    argv = ["ansible-playbook", "-i", _inventory(workdir, subnet=6)]
    argv += [ROOT / "playbooks" / "site.yml", "--tags", "time"]
    output_file = workdir / "ansible-playbook.out"
    with open(output_file, "w") as output:
        process = subprocess.Popen(
            [str(arg) for arg in argv],
            cwd=ROOT,
            env=ansible_cli.environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield simulator, process, output_file
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        simulator.stop()


def test_check_mode_shows_standby_cpus_first_and_flashes_nothing(tmp_path, simulator):
    running = simulator()
    # batches do not change what check mode shows or does: one batch after each canary
    completed = _rollout(tmp_path, "--check", batch_size="100%")
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    words = " ".join(output.split())  # the callback wraps long lines
    assert "first wave (standby and unpaired CPUs): A2, B1, B3, S1, S2'" in words
    assert "version): A1, A3, B2'" in words
    assert "WARNING" not in words
    assert _flashes(running) == {}
    assert all(device["firmware"]["version"] == "4.0" for device in running.devices().values())


def test_no_moment_has_both_cpus_of_a_pair_flashing_in_the_worst_order(tmp_path, simulator):
    running = simulator()
    completed = _rollout(tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    flashes = _flashes(running)
    assert sorted(flashes) == sorted(DEVICES)
    for first, second in PAIRS:
        for begin, end in flashes[first]:
            for other_begin, other_end in flashes[second]:
                assert end <= other_begin or other_end <= begin, (first, second, flashes)
    devices = running.devices()
    # the standby went first; the selected one handed over when it went: now its mate runs
    assert [devices[name]["selected"] for name in ("A1", "B1", "A2", "B2")] == [
        False,
        True,
        True,
        False,
    ]
    assert "switch-over" in running.log_text()
    assert set(device["firmware"]["version"] for device in devices.values()) == {VERSION}
    # each image went in the blocks and windows its CPU's device-protocol settings name
    # (lock-step asks for no windowsize at all: an old server may refuse an option it does
    # not know)
    written = dict(
        (name, (int(blksize), int(windowsize), "windowsize" in asked.split(",")))
        for name, kind, blksize, windowsize, asked in TRANSFER_LINE.findall(running.log_text())
        if kind == "wrq"
    )
    windows = dict(
        (name, OWN_PROTOCOL.get(name, {}).get("firmware_windowsize", 1)) for name in DEVICES
    )
    assert written == dict((name, (1024, windows[name], windows[name] > 1)) for name in DEVICES)


def test_a_flash_failing_on_the_first_cpu_of_a_pair_leaves_its_mate_untouched(tmp_path, simulator):
    failing = {
        "action": "error",
        "file": "firmware.bin",
        "code": 3,
        "device": "B1",
        "message": "flash refused",
    }
    running = simulator(faults=[failing])
    completed = _rollout(tmp_path)
    assert completed.returncode != 0, completed.stdout
    assert "B1" in completed.stdout and "flash refused" in completed.stdout
    time.sleep(FLASH_SECONDS)  # a CPU of B1's batch may still be flashing: let it end
    devices = running.devices()
    assert devices["A1"]["firmware"]["version"] == "4.0"
    assert devices["A1"]["selected"] is True
    flashes = _flashes(running)
    assert "A1" not in flashes and "B1" not in flashes
    assert all(not (first in flashes and second in flashes) for first, second in PAIRS)
    # the second wave never started: no selected CPU was touched
    assert all(devices[name]["firmware"]["version"] == "4.0" for name in ("A1", "A3", "B2"))


def test_time_is_set_on_a_cpu_whose_mate_does_not_answer(absent_mate_time_run):
    running, process, output_file = absent_mate_time_run
    returncode = process.wait(600)
    assert returncode != 0, output_file.read_text()  # A1 does not answer
    devices = running.devices()
    assert "A1" not in devices
    # B1 (its mate) and every other CPU were set: an hour off before, in step now
    assert all(abs(device["clock_offset"]) < 5 for device in devices.values()), devices
