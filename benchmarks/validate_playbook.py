"""validate.yml against Ansible's own floor, for 1,000 and 10,000 MPCPUs, side by side.

For each size one inventory is written (N MPCPUs on 198.18.0.0/15, the benchmarking range:
nothing is sent to it; one CCTV server playing every PC part but DHCP; a router that serves
DHCP), then, round after round, the same ansible-playbook is timed on it:

- floor: a play on localhost with one ``ansible.builtin.debug`` task: what Ansible itself
  costs for this inventory (parsing it, building the variables, one task);
- validate: ``playbooks/validate.yml`` (validation and the port matrix);
- compile: ``site.yml``'s first play (validation, then the model compiled and published as
  the fact every later play reads), the flows counted.

The script fails instead of printing a ratio when a run fails or validate.yml does not print
the matrix. Target: validate/floor at most 1.5 at each size. compile/floor shows what a
deployment pays before its first host is touched (the inventory is validated once per run).

    . ~/.cache/megapower-mpcpu/venv/bin/activate
    python3 benchmarks/validate_playbook.py [--sizes 1000 10000] [--rounds 3]
"""

import argparse
import ipaddress
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d  # noqa: E402

MPCPU_NETWORK = ipaddress.ip_network("198.18.0.0/15")
# The router serves DHCP; one server plays every other PC part.
DHCP_PART = appendix_d.row("ip_assignment").pc_part
SERVER_PARTS = tuple(part for part in appendix_d.PC_PARTS if part != DHCP_PART)
FLOOR_PLAY = """---
- name: Ansible's floor for this inventory
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: One task
      ansible.builtin.debug:
        msg: floor
"""
COMPILE_PLAY = """---
- name: What site.yml's first play does
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.site_model
      vars:
        site_model_show_matrix: false
  post_tasks:
    - name: Count the flows
      ansible.builtin.debug:
        msg: "flows {{ site_model_compiled.flows | length }}"
"""


def group_vars():
    return (
        "---\nmpcpu_site:\n  name: bench\n  networks:\n"
        "    - {name: cctv, cidr: %s, gateway: %s, kind: mpcpu}\n"
        "    - {name: office, cidr: 203.0.113.0/24, gateway: 203.0.113.1, kind: pc}\n"
        "  management_networks: [203.0.113.0/28]\n"
    ) % (MPCPU_NETWORK, MPCPU_NETWORK[1])


def hosts_yml(devices):
    lines = ["---", "all:", "  children:", "    mpcpu:", "      hosts:"]
    for index in range(devices):
        address = MPCPU_NETWORK[index + 10]
        mac = "02:00:%02x:%02x:%02x:%02x" % tuple(address.packed)
        lines.append("        cpu-%05d: {mpcpu_ip: %s, mpcpu_mac: '%s'}" % (index, address, mac))
    lines.append("    mpcpu_routers:")
    lines.append("      hosts:")
    lines.append(
        "        gw: {ansible_host: 203.0.113.1, mpcpu_router_addresses: [%s, 203.0.113.1]}"
        % MPCPU_NETWORK[1]
    )
    lines.append("    %s:" % DHCP_PART)
    lines.append("      hosts: {gw: {mpcpu_service_ip: %s}}" % MPCPU_NETWORK[1])
    for part in SERVER_PARTS:
        lines.append("    %s:" % part)
        lines.append("      hosts: {srv: {ansible_host: 203.0.113.10}}")
    return "\n".join(lines) + "\n"


def write_inventory(directory, devices):
    inventory = pathlib.Path(directory) / ("site-%d" % devices)
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(group_vars())
    (inventory / "hosts.yml").write_text(hosts_yml(devices))
    return inventory


def timed_run(playbook, inventory, expect):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if result.returncode != 0 or expect not in result.stdout:
        output = result.stdout + result.stderr
        sys.exit("%s failed or printed no %r:\n%s" % (playbook, expect, output))
    return elapsed


def _runs(times):
    return " ".join("%.2f" % t for t in times)


def measure(size, rounds, scratch):
    inventory = write_inventory(scratch, size)
    floor_play = pathlib.Path(scratch) / "floor.yml"
    floor_play.write_text(FLOOR_PLAY)
    compile_play = pathlib.Path(scratch) / "compile.yml"
    compile_play.write_text(COMPILE_PLAY)
    validate = ROOT / "playbooks" / "validate.yml"
    floors, validates, compiles = [], [], []
    for _round in range(rounds):
        floors.append(timed_run(floor_play, inventory, "msg: floor"))
        validates.append(timed_run(validate, inventory, "Activity Logging: TCP MPCPU 514"))
        compiles.append(timed_run(compile_play, inventory, "msg: flows "))
    floor, valid = statistics.median(floors), statistics.median(validates)
    compiled = statistics.median(compiles)
    print(
        "%6d MPCPUs: floor %6.2f s, validate %6.2f s, compile %6.2f s, "
        "validate/floor %.3f, compile/floor %.3f  (runs: floor %s; validate %s; compile %s)"
        % (
            size,
            floor,
            valid,
            compiled,
            valid / floor,
            compiled / floor,
            _runs(floors),
            _runs(validates),
            _runs(compiles),
        ),
        flush=True,
    )
    return valid / floor


def _processor():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("processor: %s" % _processor(), flush=True)
    with tempfile.TemporaryDirectory(prefix="mpcpu-validate-bench-") as scratch:
        ratios = [measure(size, args.rounds, scratch) for size in args.sizes]
    return 0 if all(ratio <= 1.5 for ratio in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
