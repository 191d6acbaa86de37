"""Today's platforms: a Debian 13 controller on ansible-core 2.21 (Python 3.13) deploys the
built-in site onto Debian 13 hosts, redeploys with no change, and every cell passes verify;
ansible-core 2.20 on the same controller verifies the deployed site too."""

import pathlib
import re
import subprocess
from xml.etree import ElementTree

import pytest

from mpcpu_lab import controller, lab, topology

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "lab" / "topologies" / "controller.yml"
REPORT_DIR = "/root/verify"
MANAGED = ("mpcpu-sim", "cctv-gw", "cctv-srv")
OLDER_CORE = "2.20.10"


def on(state, host, command):
    result = subprocess.run(
        lab.ssh_argv(state, host, command), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def playbook(state, path, *extra, core=controller.ANSIBLE_CORE):
    result = controller.ansible(
        state,
        "controller",
        "ansible-playbook",
        "-i",
        "inventories/lab",
        path,
        *extra,
        core=core,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def changed_counts(output):
    recap = output[output.rindex("PLAY RECAP") :]
    return {
        host: int(count) for host, count in re.findall(r"^(\S+)\s+:.*changed=(\d+)", recap, re.M)
    }


def verify_cells(state, core):
    report_dir = "%s-%s" % (REPORT_DIR, core)
    playbook(
        state,
        "playbooks/verify.yml",
        "-e",
        "verify_report_dir=%s" % report_dir,
        "-e",
        "verify_fail_on_failure=false",
        core=core,
    )
    suite = ElementTree.fromstring(on(state, "controller", "cat %s/junit.xml" % report_dir))
    return {
        (case.get("classname"), case.get("name")): case.find("failure") is None
        for case in suite.iter("testcase")
    }


@pytest.fixture(scope="module")
def controller_site():
    wheels = controller.fetch_wheels()
    with lab.running(topology.load(TOPOLOGY)) as state:
        controller.install(state, "controller", wheels)
        playbook(state, "lab/playbooks/lab_devices.yml")
        # site.yml ends with verify, whose report would go to the (read-only) checkout.
        report = "verify_report_dir=%s-site" % REPORT_DIR
        first = playbook(state, "playbooks/site.yml", "-e", report)
        second = playbook(state, "playbooks/site.yml", "-e", report)
        yield state, first, second


def test_the_controller_runs_ansible_core_2_21_on_python_3_13(controller_site):
    version = controller.ansible(controller_site[0], "controller", "ansible", "--version").stdout
    assert "[core %s]" % controller.ANSIBLE_CORE in version
    assert re.search(r"python version = 3\.13\.", version)


def test_the_managed_hosts_run_debian_13(controller_site):
    for host in MANAGED:
        assert on(controller_site[0], host, "cat /etc/debian_version").startswith("13.")


def test_first_run_deploys_and_second_run_changes_nothing(controller_site):
    _lab, first, second = controller_site
    assert set(changed_counts(first)) >= set(MANAGED)
    assert sum(changed_counts(first).values()) > 0
    assert set(changed_counts(second).values()) == {0}


def test_every_cell_of_verify_passes(controller_site):
    cells = verify_cells(controller_site[0], controller.ANSIBLE_CORE)
    assert len(cells) == 21
    assert sorted(cell for cell, passed in cells.items() if not passed) == []


def test_ansible_core_2_20_verifies_the_site_too(controller_site):
    state = controller_site[0]
    controller.install(state, "controller", controller.fetch_wheels(OLDER_CORE), core=OLDER_CORE)
    version = controller.ansible(state, "controller", "ansible", "--version", core=OLDER_CORE)
    assert "[core %s]" % OLDER_CORE in version.stdout
    cells = verify_cells(state, OLDER_CORE)
    assert len(cells) == 21
    assert sorted(cell for cell, passed in cells.items() if not passed) == []


# What each release's own tools say of the configuration the roles deployed (the roles also
# run them as `validate:` before writing; this reads the live files after the second run).
CHECKERS = {
    "cctv-gw": (
        "kea-dhcp4 -t /etc/kea/kea-dhcp4.conf",
        "nft -c -f /etc/megapower-mpcpu/firewall/mpcpu.nft",
    ),
    "cctv-srv": (
        'test -z "$(postfix check 2>&1)"',
        "chronyd -p -f /etc/chrony/chrony.conf >/dev/null",
        "nft -c -f /etc/megapower-mpcpu/firewall/mpcpu.nft",
    ),
}


@pytest.mark.parametrize(
    ("host", "check"), [(host, check) for host, checks in CHECKERS.items() for check in checks]
)
def test_debian_13_own_checkers_accept_the_deployed_configuration(controller_site, host, check):
    on(controller_site[0], host, check)
