"""`site.yml --check --diff` on a fresh site, as the README offers it ("what would change"):
the built-in lab booted and its simulator deployed, nothing else. The run must complete,
say what every host would get (firewall, services, time, firmware) and change nothing."""

import pathlib
import re
import subprocess

import pytest

import ansible_cli
from mpcpu_lab import lab, topology

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "lab"
TOPOLOGY = ROOT / "lab" / "topologies" / "site.yml"
PC_HOSTS = ("cctv-gw", "cctv-srv")
LAB_HOSTS = ("mpcpu-sim",) + PC_HOSTS
# What a host holds that a deployment would change: its files, its ruleset, its services.
# Unit files leave out transient units (each SSH session is a scope); running services leave
# out what comes and goes by itself: Ansible's SSH sessions start user@0.service, and systemd
# starts some of its own helpers on demand.
STATE_COMMAND = (
    "find /etc /srv /usr/local /var/cache -xdev -type f -print0 2>/dev/null | sort -z"
    " | xargs -0 sha256sum; echo ---; nft list ruleset; echo ---;"
    " systemctl list-unit-files --type=service,socket,timer,path --no-legend --no-pager"
    " | sort; echo ---;"
    " systemctl list-units --type=service --state=running --no-legend --plain --no-pager"
    " | awk '{print $1}' | grep -v -e '^user' -e '^systemd-' | sort"
)
# Each area of site.yml, by the play that deploys it; the lab site uses every one.
AREAS = {
    "firewall": "Firewalls of the PC side and the routers",
    "dhcp": "DHCP for the MPCPU networks",
    "ntp": "NTP for the MPCPUs",
    "smtp": "Alarm e-mail relay",
    "tftp_receiver": "Snapshot receiver",
    "log_collector": "Activity-log collector",
    "time": "MPCPU calendar time",
    "firmware": "MPCPU firmware",
}


def host_state(state, host):
    result = subprocess.run(
        lab.ssh_argv(state, host, STATE_COMMAND),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def playbook(path, *extra):
    return ansible_cli.run("ansible-playbook", "-i", INVENTORY, path, *extra, timeout=900)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    text = output[output.rindex("PLAY RECAP") :]
    return {
        host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in re.findall(r"^(\S+)\s+:\s+(.*)$", text, re.M)
    }


@pytest.fixture(scope="module")
def checked_site():
    with lab.running(topology.load(TOPOLOGY)) as state:
        devices = playbook("lab/playbooks/lab_devices.yml")
        assert devices.returncode == 0, devices.stdout[-4000:] + devices.stderr[-2000:]
        before = {host: host_state(state, host) for host in LAB_HOSTS}
        checked = playbook("playbooks/site.yml", "--check", "--diff")
        after = {host: host_state(state, host) for host in LAB_HOSTS}
        yield checked, before, after


def test_check_mode_on_a_fresh_site_completes_without_failure(checked_site):
    checked, _before, _after = checked_site
    assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr[-2000:]
    counts = recap(checked.stdout)
    assert set(PC_HOSTS) <= set(counts), counts
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in counts.values()), counts


def test_check_mode_reports_changes_for_every_pc_host(checked_site):
    counts = recap(checked_site[0].stdout)
    assert all(counts[host]["changed"] > 0 for host in PC_HOSTS), counts


@pytest.mark.parametrize("area", sorted(AREAS))
def test_check_mode_reports_each_area(checked_site, area):
    plays = checked_site[0].stdout.split("\nPLAY [")
    # One section per play, or per batch of a play with serial (the firmware play).
    section = "".join(play for play in plays if play.startswith(AREAS[area]))
    # The play looked at its hosts: task results, not only skips.
    assert re.search(r"^(ok|changed): \[", section, re.M), section[-3000:]


def test_check_mode_shows_the_firewall_and_the_firmware_it_would_apply(checked_site):
    # The YAML result format folds long lines: compare with the whitespace collapsed.
    output = " ".join(checked_site[0].stdout.split())
    assert "table inet mpcpu" in output  # the ruleset diff
    assert re.search(r"would stage \S+ as /var/cache/mpcpu-firmware/\S+ on cctv-srv", output)


def test_check_mode_changes_nothing_on_any_host(checked_site):
    _checked, before, after = checked_site
    for host in LAB_HOSTS:
        assert after[host] == before[host], host
