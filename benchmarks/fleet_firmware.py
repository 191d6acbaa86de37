"""Fleet benchmark: firmware to simulated MPCPUs through playbooks/firmware.yml, against its floor.

One simulator process plays every device on its own loopback address (127.77.8.x): pairs of
hot-standby CPUs (A-n selected, B-n standby at start), each answering over a slow, lossy path
that the simulator's own fault plan makes (this kernel has no netem): every TFTP packet and
status reply it sends is held back one round trip (``--rtt-ms``), and TFTP packets are
dropped at random in each direction (``--loss`` percent, seeded per device). A flash keeps a
CPU silent ``--flash-seconds``. Side by side in one run:

  reference  the same firmware module (megapower.mpcpu.mpcpu_firmware, the same options as the
             play) sending the same image to one spare device over the same path, alone:
             one device's transfer time;
  play       ``playbooks/firmware.yml`` on the whole fleet: the site model, the order play,
             then the standby wave and the selected wave, each one canary then batches of
             ``--batch`` (``site_firmware_batch_size``), ``--forks`` forks.

Floor: the devices' transfer time added up and divided by the parallelism (the hosts of a
full batch, at most the forks), once with the reference device's time for every device
(``N x reference / parallelism``) and once with the transfer times the module reported for
each device during the play. Printed: the play's wall time, both floors and the ratios.
A canary batch holds one device and a wave waits for its slowest CPU, so the ratio cannot
reach 1: with 25 pairs and 50 % batches the waves take 6 batch rounds where the floor
counts 50 / 12 = 4.2 of them; the last row prints that bound (the rounds times the
reference transfer).

    . ~/.cache/megapower-mpcpu/venv/bin/activate
    python3 benchmarks/fleet_firmware.py [--pairs 25] [--image-mib 4] [--rtt-ms 20] [--loss 1]
        [--batch 50%] [--forks 25] [--flash-seconds 2] [--windowsize 1]

The script fails instead of printing a ratio if the play fails or a device does not end on
the new version. Sends traffic only to 127.77.8.0/24 on loopback.

Measured 2026-12-07 (2-core Intel Xeon, load average 3-6, the defaults above): play
659.9 s; one device alone 74.2 s; floor 50 x 74.2 / 12 = 309.1 s (play/floor 2.13); floor
from the play's own 50 transfers 326.2 s (2.02); canary and batches, 6 rounds x 74.2 s =
445.1 s (1.48). On a busier machine (load 10-13): 775.5 s, ratios 2.53 / 2.23 / 1.76.
With ``--windowsize 16`` (the device-protocol setting ``firmware_windowsize``; 2026-12-07,
same machine, load 0.3 at the start): play 176.9 s; one device alone 5.70 s (222
retransmissions); floor 23.8 s (7.44), from the play's transfers 29.9 s (5.91), six rounds
34.2 s (5.17). Windows cut a transfer 13-fold; what is left of the play is its own steps (the
order play, the status polls and the waits for each restarted CPU, the batches' start-up).
benchmarks/README.md says where the time goes.
"""

import argparse
import hashlib
import json
import os
import pathlib
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
from mpcpu_sim import launch  # noqa: E402  (lab/ on sys.path above)

VERSION = "5.2"
FIRST_ADDRESS = "127.77.8.1"
SITE_BLOCK, SERVICE_IP = "127.77.8", "127.77.8.129"  # MPCPUs in .0/25, the office .128/25
REFERENCE_NAME = "REF"
SEND_TASK = "Send the image to "
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

# A notification callback: every result that carries a transfer duration, one JSON line each.
TRANSFER_CALLBACK = """
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "fleet_transfers"
    CALLBACK_NEEDS_ENABLED = True

    def v2_runner_on_ok(self, result):
        duration = result._result.get("duration")
        if duration is None:
            return
        entry = {
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "duration": duration,
            "retransmissions": result._result.get("retransmissions"),
            "changed": result._result.get("changed"),
        }
        with open(os.environ["FLEET_TRANSFERS_FILE"], "a") as log:
            log.write(json.dumps(entry) + "\\n")
"""

REFERENCE_PLAYBOOK = """---
- name: One device's transfer, alone on the path
  hosts: localhost
  gather_facts: false
  tasks:
    - name: {send_task}{name}
      megapower.mpcpu.mpcpu_firmware:
        host: "{address}"
        src: "{image}"
        version: "{version}"
        sha256: "{sha256}"
        verify: false{windowsize}
"""


def make_image(path, mib):
    """A header the simulator reads the version from, then seeded random bytes."""
    body = random.Random(23).randbytes(mib * 1024 * 1024 - 64)
    image = (b"MPCPU-FW %s\n" % VERSION.encode()).ljust(64, b"\0") + body
    path.write_bytes(image)
    return hashlib.sha256(image).hexdigest()


def fleet(pairs):
    """{name: (address, mate, role at start)}: pairs A-n/B-n, then the spare reference device."""
    addresses = launch.fleet_addresses(2 * pairs + 1, first=FIRST_ADDRESS)
    devices = {}
    for index in range(pairs):
        first, second = "A%02d" % (index + 1), "B%02d" % (index + 1)
        devices[first] = (addresses[2 * index], second, "selected")
        devices[second] = (addresses[2 * index + 1], first, "standby")
    devices[REFERENCE_NAME] = (addresses[-1], "", "")
    return devices


def path_faults(rtt, loss, seed):
    """The fault rules that make the path: one round trip of delay, random loss each way."""
    rules = [
        {"action": "delay", "direction": "out", "seconds": rtt},
        {"action": "delay", "service": "easy_cpu", "packet": "reply", "seconds": rtt},
    ]
    if loss > 0:
        rules += [
            {"action": "drop", "direction": direction, "probability": loss, "seed": seed}
            for direction in ("in", "out")
        ]
    return rules


def simulator_config(devices, args):
    entries = [
        {"name": name, "address": address} | ({"mate": mate, "role": role} if mate else {})
        for name, (address, mate, role) in devices.items()
    ]
    defaults = {"log_rate": 0, "flash_seconds": args.flash_seconds}
    faults = path_faults(args.rtt_ms / 1000.0, args.loss / 100.0, args.seed)
    return {"defaults": defaults, "devices": entries, "faults": faults}


def inventory(devices, image, sha256, windowsize=1):
    firmware = {"file": str(image), "version": VERSION, "sha256": sha256}
    hosts = {}
    for name, (address, mate, _role) in devices.items():
        if name == REFERENCE_NAME:
            continue
        octets = [int(part) for part in address.split(".")]
        hosts[name] = {
            "mpcpu_ip": address,
            "mpcpu_mac": "02:00:00:77:%02x:%02x" % (octets[2], octets[3]),
            "mpcpu_firmware": firmware,
            "mpcpu_mate": mate,
        }
    site = launch.loopback_site("fleet", SITE_BLOCK, ["time_firmware", "easy_cpu"])
    site["device_protocol"] = {"firmware_windowsize": windowsize}
    return launch.controller_inventory(site, hosts, SERVICE_IP)


def run_playbook(workdir, argv, label):
    """(wall seconds, transfers the module reported) of one ansible-playbook run."""
    transfers_file = workdir / ("%s-transfers.jsonl" % label)
    environment = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACK_PLUGINS=str(workdir / "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED="fleet_transfers",
        FLEET_TRANSFERS_FILE=str(transfers_file),
    )
    started = time.monotonic()
    result = subprocess.run(
        ["ansible-playbook", *argv],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    failed = sum(int(row[3]) + int(row[4]) for row in RECAP.findall(result.stdout))
    if result.returncode != 0 or failed:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        raise SystemExit("%s: rc=%d\n%s\n%s" % (label, result.returncode, tail, result.stderr))
    lines = transfers_file.read_text().splitlines() if transfers_file.exists() else []
    sends = [json.loads(line) for line in lines]
    return wall, [entry for entry in sends if SEND_TASK in entry["task"]]


def reference_transfer(workdir, hosts_file, devices, image, sha256, *, windowsize=1):
    playbook = workdir / "reference.yml"
    playbook.write_text(
        REFERENCE_PLAYBOOK.format(
            send_task=SEND_TASK,
            name=REFERENCE_NAME,
            address=devices[REFERENCE_NAME][0],
            image=image,
            version=VERSION,
            sha256=sha256,
            # as the devices role: lock-step asks for no windowsize option
            windowsize="\n        windowsize: %d" % windowsize if windowsize > 1 else "",
        )
    )
    _wall, sends = run_playbook(workdir, ["-i", str(hosts_file), str(playbook)], "reference")
    if len(sends) != 1 or not sends[0]["changed"]:
        raise SystemExit("reference: expected one changed transfer, got %s" % sends)
    return sends[0]


def fleet_play(workdir, args, hosts_file):
    argv = ["-i", str(hosts_file), "-f", str(args.forks), str(ROOT / "playbooks/firmware.yml")]
    argv += ["-e", "site_firmware_batch_size=%s" % args.batch]
    argv += ["-e", "__devices_image=%s/cache/{{ __devices_firmware.file | basename }}" % workdir]
    return run_playbook(workdir, argv, "play")


def batch_hosts(batch, wave):
    """The hosts of a full batch, as Ansible's ``serial`` reads a count or a percentage."""
    if str(batch).endswith("%"):
        return max(1, int(wave * float(str(batch)[:-1]) / 100))
    return min(int(batch), wave)


def batch_rounds(batch, wave):
    """Batches in a wave of ``wave`` hosts: the canary, then full batches (serial [1, batch])."""
    rest = wave - 1
    size = batch_hosts(batch, wave)
    return 1 + (rest + size - 1) // size


def processor():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def report(args, reference, play_wall, sends):
    count = 2 * args.pairs
    parallelism = min(args.forks, batch_hosts(args.batch, args.pairs))
    floor_reference = count * reference["duration"] / parallelism
    floor_measured = sum(entry["duration"] for entry in sends) / parallelism
    durations = [entry["duration"] for entry in sends]
    print(
        "%s, %d CPUs; %d MPCPUs (%d pairs), %d MiB image, %g ms round trip, %g %% loss each way,"
        " batches of %s, %d forks, flash %g s, windowsize %d"
        % (
            processor(),
            os.cpu_count(),
            count,
            args.pairs,
            args.image_mib,
            args.rtt_ms,
            args.loss,
            args.batch,
            args.forks,
            args.flash_seconds,
            args.windowsize,
        )
    )
    print(
        "reference: one device alone %.2f s (%d retransmissions)"
        % (reference["duration"], reference["retransmissions"] or 0)
    )
    print(
        "in the play: transfers %.2f s median, %.2f-%.2f s, %d retransmissions in all"
        % (
            statistics.median(durations),
            min(durations),
            max(durations),
            sum(entry["retransmissions"] or 0 for entry in sends),
        )
    )
    print("%-44s %9s %8s" % ("", "seconds", "play/it"))
    print("%-44s %9.1f %8s" % ("play (firmware.yml, whole fleet)", play_wall, ""))
    rounds = 2 * batch_rounds(args.batch, args.pairs)
    rows = (
        ("floor: %d x reference / %d" % (count, parallelism), floor_reference),
        ("floor: sum of the play's transfers / %d" % parallelism, floor_measured),
        ("canary and batches: %d rounds x reference" % rounds, rounds * reference["duration"]),
    )
    for label, seconds in rows:
        print("%-44s %9.1f %8.2f" % (label, seconds, play_wall / seconds))


def check_fleet(simulator, pairs):
    devices = simulator.devices()
    behind = sorted(
        name
        for name, device in devices.items()
        if name != REFERENCE_NAME and device["firmware"]["version"] != VERSION
    )
    if behind or len(devices) != 2 * pairs + 1:
        raise SystemExit("devices not on %s after the play: %s" % (VERSION, behind))


def parse_arguments():
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--pairs", type=int, default=25)
    options.add_argument("--image-mib", type=int, default=4)
    options.add_argument("--rtt-ms", type=float, default=20.0)
    options.add_argument("--loss", type=float, default=1.0, help="percent, each direction")
    options.add_argument("--batch", default="50%")
    options.add_argument("--forks", type=int, default=25)
    options.add_argument("--flash-seconds", type=float, default=2.0)
    options.add_argument("--seed", type=int, default=1)
    options.add_argument(
        "--windowsize", type=int, default=1, help="device_protocol.firmware_windowsize"
    )
    return options.parse_args()


def main():
    args = parse_arguments()
    devices = fleet(args.pairs)
    with tempfile.TemporaryDirectory(prefix="fleet-firmware-") as tmp:
        workdir = pathlib.Path(tmp)
        (workdir / "callback_plugins").mkdir()
        (workdir / "callback_plugins" / "fleet_transfers.py").write_text(TRANSFER_CALLBACK)
        image = workdir / ("mpcpu-%s.bin" % VERSION)
        sha256 = make_image(image, args.image_mib)
        hosts_file = workdir / "hosts.yml"
        fleet_inventory = inventory(devices, image, sha256, args.windowsize)
        hosts_file.write_text(yaml.safe_dump(fleet_inventory, sort_keys=False))
        config = simulator_config(devices, args)
        with launch.Simulator(workdir, config=config, quiet=True) as simulator:
            reference = reference_transfer(
                workdir, hosts_file, devices, image, sha256, windowsize=args.windowsize
            )
            play_wall, sends = fleet_play(workdir, args, hosts_file)
            check_fleet(simulator, args.pairs)
    if len(sends) != 2 * args.pairs:
        raise SystemExit("expected %d transfers in the play, got %d" % (2 * args.pairs, len(sends)))
    report(args, reference, play_wall, sends)


if __name__ == "__main__":
    main()
