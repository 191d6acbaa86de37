"""Fleet benchmark: set the time of many simulated MPCPUs in one playbook run.

One simulator process plays every device on its own loopback address (127.77.x.y). The same
inventory (group ``mpcpu``, one host per device) runs three playbooks the same way, with the
task delegated to the controller (localhost) and the same forks:

  floor    ``ansible.builtin.command: /bin/true``, Ansible's own per-host cost
  set      ``megapower.mpcpu.mpcpu_time`` with every device an hour off: read, write, read back
  in-step  the same task again: every device within the tolerance, one read each

and prints the wall times side by side with the ratios to the floor (target: set at most
1.3). A round ends by knocking every clock off again (``source: explicit``), so rounds repeat.
The simulator's CPU time during each run is printed too: it shares the machine's cores with
Ansible, which a real fleet of devices would not.

    . ~/.cache/megapower-mpcpu/venv/bin/activate
    python3 benchmarks/fleet_time.py [--devices 300] [--forks 25] [--rounds 2]

Sends traffic only to 127.77.0.0/16 on loopback.
"""

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
from mpcpu_sim import launch  # noqa: E402  (lab/ on sys.path above)

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
SKEWED_TIME = "2020-01-01T00:00:00"

PLAYBOOK = """---
- name: {name}
  hosts: mpcpu
  gather_facts: false
  tasks:
    - name: {name}
{task}
      delegate_to: localhost
"""
TASKS = {
    "floor": "      ansible.builtin.command: /bin/true",
    "time": '      megapower.mpcpu.mpcpu_time:\n        host: "{{ mpcpu_ip }}"',
    "skew": (
        "      megapower.mpcpu.mpcpu_time:\n"
        '        host: "{{ mpcpu_ip }}"\n'
        "        source: explicit\n"
        '        time: "%s"\n'
        "        verify: false" % SKEWED_TIME
    ),
}


def write_files(workdir, device_addresses):
    hosts = {
        "fleet-%03d" % (index + 1): {"mpcpu_ip": address}
        for index, address in enumerate(device_addresses)
    }
    inventory = {"all": {"children": {"mpcpu": {"hosts": hosts}}}}
    (workdir / "hosts.yml").write_text(json.dumps(inventory, indent=1))
    for name, task in TASKS.items():
        (workdir / ("%s.yml" % name)).write_text(PLAYBOOK.format(name=name, task=task))


def run_playbook(workdir, name, forks, simulator):
    environment = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    argv = ["ansible-playbook", "-i", str(workdir / "hosts.yml"), "-f", str(forks)]
    argv.append(str(workdir / ("%s.yml" % name)))
    cpu_before = simulator.cpu_seconds()
    started = time.monotonic()
    result = subprocess.run(
        argv, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    simulator_cpu = simulator.cpu_seconds() - cpu_before
    recap = RECAP.findall(result.stdout)
    changed = sum(int(entry[2]) for entry in recap)
    failed = sum(int(entry[3]) + int(entry[4]) for entry in recap)
    if result.returncode != 0 or failed:
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise SystemExit(
            "%s: rc=%d, %d failed\n%s\n%s" % (name, result.returncode, failed, tail, result.stderr)
        )
    return {"wall": wall, "hosts": len(recap), "changed": changed, "simulator_cpu": simulator_cpu}


def expect_changed(label, run, count):
    if run["hosts"] != count or run["changed"] != count:
        raise SystemExit(
            "%s: %d host(s), %d changed; expected %d changed"
            % (label, run["hosts"], run["changed"], count)
        )


def one_round(workdir, forks, simulator, count):
    floor = run_playbook(workdir, "floor", forks, simulator)
    setting = run_playbook(workdir, "time", forks, simulator)
    expect_changed("set", setting, count)
    in_step = run_playbook(workdir, "time", forks, simulator)
    if in_step["changed"]:
        raise SystemExit("in-step: %d device(s) changed on the second run" % in_step["changed"])
    skew = run_playbook(workdir, "skew", forks, simulator)
    expect_changed("skew", skew, count)
    return {"floor": floor, "set": setting, "in-step": in_step}


def report(rounds, count, forks):
    print(
        "devices=%d forks=%d rounds=%d (wall seconds; simulator CPU seconds)"
        % (count, forks, len(rounds))
    )
    print("%-6s %16s %16s %16s %9s %9s" % ("round", "floor", "set", "in-step", "set/fl", "step/fl"))
    for index, runs in enumerate(rounds, 1):
        cells = [
            "%7.2f (%5.2f)" % (runs[kind]["wall"], runs[kind]["simulator_cpu"])
            for kind in ("floor", "set", "in-step")
        ]
        print(
            "%-6d %16s %16s %16s %9.3f %9.3f"
            % (
                index,
                *cells,
                runs["set"]["wall"] / runs["floor"]["wall"],
                runs["in-step"]["wall"] / runs["floor"]["wall"],
            )
        )
    medians = {
        kind: statistics.median(runs[kind]["wall"] for runs in rounds)
        for kind in ("floor", "set", "in-step")
    }
    print(
        "median floor %.2f s, set %.2f s, in-step %.2f s; "
        "ratio set/floor %.3f, in-step/floor %.3f (target <= 1.3)"
        % (
            medians["floor"],
            medians["set"],
            medians["in-step"],
            medians["set"] / medians["floor"],
            medians["in-step"] / medians["floor"],
        )
    )


def main():
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--devices", type=int, default=300)
    options.add_argument("--forks", type=int, default=25)
    options.add_argument("--rounds", type=int, default=2)
    args = options.parse_args()
    device_addresses = launch.fleet_addresses(args.devices)
    # an hour ahead, so the first "set" run really sets; no activity-log chatter
    arguments = ["--set", "clock_offset=3600", "--set", "log_rate=0"]
    arguments += launch.address_arguments(device_addresses)
    with tempfile.TemporaryDirectory(prefix="fleet-time-") as tmp:
        workdir = pathlib.Path(tmp)
        write_files(workdir, device_addresses)
        with launch.Simulator(workdir, arguments=arguments, quiet=True) as simulator:
            rounds = [
                one_round(workdir, args.forks, simulator, args.devices)
                for _round in range(args.rounds)
            ]
    report(rounds, args.devices, args.forks)


if __name__ == "__main__":
    main()
