"""The main job, end to end: the built-in lab deploys, redeploys with no change, and every flow
of Appendix D passes verify; breaking one flow on purpose fails exactly that row."""

import pathlib
import re
import subprocess
from xml.etree import ElementTree

import pytest

import ansible_cli
from mpcpu_lab import lab, topology

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "lab"
TOPOLOGY = ROOT / "lab" / "topologies" / "site.yml"
MPCPUS = ("lobby-cpu", "garage-cpu", "dock-cpu")
ROWS = (
    "activity_logging",
    "easy_cpu",
    "snapshot",
    "time_firmware",
    "ntp",
    "alarm_email",
    "ip_assignment",
)


def playbook(name, *extra):
    result = ansible_cli.run(
        "ansible-playbook", "-i", INVENTORY, "playbooks/%s" % name, *extra, timeout=900
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def changed_counts(output):
    recap = output[output.rindex("PLAY RECAP") :]
    return {
        host: int(count) for host, count in re.findall(r"^(\S+)\s+:.*changed=(\d+)", recap, re.M)
    }


def verify(report_dir):
    playbook(
        "verify.yml",
        "-e",
        "verify_report_dir=%s" % report_dir,
        "-e",
        "verify_fail_on_failure=false",
    )
    suite = ElementTree.parse(report_dir / "junit.xml").getroot()
    return {
        (case.get("classname"), case.get("name")): case.find("failure") is None
        for case in suite.iter("testcase")
    }


def failing(cells):
    return sorted(cell for cell, passed in cells.items() if not passed)


def on(state, host, command):
    result = subprocess.run(
        lab.ssh_argv(state, host, command), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def deployed_site():
    with lab.running(topology.load(TOPOLOGY)) as state:
        playbook("lab_devices.yml")
        first = playbook("site.yml", "-e", "verify_fail_on_failure=true")
        second = playbook("site.yml")
        yield state, first, second


def test_first_run_deploys_and_second_run_changes_nothing(deployed_site):
    _, first, second = deployed_site
    assert sum(changed_counts(first).values()) > 0
    assert changed_counts(second) and set(changed_counts(second).values()) == {0}


def test_every_row_passes_for_every_mpcpu(deployed_site, tmp_path):
    cells = verify(tmp_path)
    assert set(cells) == {(mpcpu, row) for mpcpu in MPCPUS for row in ROWS}
    assert failing(cells) == []


def test_a_stopped_ntp_server_fails_exactly_the_ntp_row(deployed_site, tmp_path):
    state = deployed_site[0]
    on(state, "cctv-srv", "systemctl stop chrony")
    try:
        cells = verify(tmp_path)
    finally:
        on(state, "cctv-srv", "systemctl start chrony")
    assert failing(cells) == sorted((mpcpu, "ntp") for mpcpu in MPCPUS)


def test_a_removed_firewall_rule_fails_exactly_the_alarm_email_row(deployed_site, tmp_path):
    state = deployed_site[0]
    chain = on(state, "cctv-srv", "nft -a list chain inet mpcpu from_mpcpu_networks")
    handle = re.search(r'comment "Alarm Email" # handle (\d+)', chain).group(1)
    on(state, "cctv-srv", "nft delete rule inet mpcpu from_mpcpu_networks handle %s" % handle)
    cells = verify(tmp_path)
    assert failing(cells) == sorted((mpcpu, "alarm_email") for mpcpu in MPCPUS)
    playbook("site.yml", "--tags", "firewall")
    assert failing(verify(tmp_path / "after")) == []
