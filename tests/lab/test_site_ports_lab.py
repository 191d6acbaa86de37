"""A programmed port for "Setting Time / Firmware Upgrade" reaches both modules of site.yml.

The simulated MPCPUs serve TFTP only on the port the site programs (port_overrides), so a
time or firmware step that fell back to the module's default (69) would fail.
"""

import json
import pathlib
import re
import subprocess

import pytest
import yaml

import ansible_cli
from mpcpu_lab import lab, topology

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "lab"
TOPOLOGY = ROOT / "lab" / "topologies" / "site.yml"
TIME_FIRMWARE_PORT = 6969
MPCPUS = ("lobby-cpu", "garage-cpu", "dock-cpu")


def playbook(path, extra_vars, *arguments):
    result = ansible_cli.run(
        "ansible-playbook", "-i", INVENTORY, path, "-e", "@%s" % extra_vars,
        *arguments, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def ports_override(tmp_path):
    site = yaml.safe_load((INVENTORY / "group_vars" / "all.yml").read_text())["mpcpu_site"]
    site["port_overrides"] = {"time_firmware": {"mpcpu_port": TIME_FIRMWARE_PORT}}
    path = tmp_path / "ports.json"
    path.write_text(json.dumps({"mpcpu_site": site}))
    return path


def listening_udp_ports(state, host):
    command = lab.ssh_argv(state, host, "ss -Hulnp")
    output = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return {int(port) for port in re.findall(r"198\.51\.100\.1\d:(\d+)\s", output.stdout)}


def test_time_and_firmware_use_the_programmed_port(tmp_path):
    override = ports_override(tmp_path)
    with lab.running(topology.load(TOPOLOGY)) as state:
        playbook("lab/playbooks/lab_devices.yml", override)
        served = listening_udp_ports(state, "mpcpu-sim")
        assert TIME_FIRMWARE_PORT in served and 69 not in served, served
        output = playbook("playbooks/site.yml", override, "--tags", "time,firmware")
    recap = output[output.rindex("PLAY RECAP") :]
    print(recap)
    counts = {
        host: (int(ok), int(changed))
        for host, ok, changed in re.findall(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)", recap, re.M)
    }
    # every MPCPU had its time read (and set if it drifted); dock-cpu got its image
    assert all(counts[mpcpu][0] >= 1 for mpcpu in MPCPUS), recap
    assert counts["dock-cpu"][1] >= 1, recap
