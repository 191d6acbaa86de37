"""The main job, end to end, as a user of the installed collection runs it: the tarball is built
and installed into a fresh, read-only collections path; from a directory outside the checkout,
with that path only, validate, site (twice: the second run changes nothing), verify (every flow
of Appendix D passes) and render run by FQCN against the built-in lab; their outputs land in
that directory and the installed collection still verifies clean. Breaking one flow on purpose
fails exactly that row."""

import os
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
# Runs the command in a private mount namespace where the collections path ($0) is a read-only
# bind mount: root ignores file modes, and the mount vanishes with the command however it ends.
READ_ONLY_THEN_EXEC = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'


class InstalledCollection:
    """The collection built from the checkout and installed into ``collections``."""

    def __init__(self, collections, run_dir):
        self.collections = collections
        self.run_dir = run_dir

    def environment(self):
        """A user's environment: no checkout ansible.cfg or paths, only the installed collection."""
        plain = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("ANSIBLE_") and name != "PYTHONPATH"
        }
        return dict(
            plain,
            ANSIBLE_COLLECTIONS_PATH=str(self.collections),
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
            ANSIBLE_NOCOLOR="1",
            # What a user's own ansible.cfg would say for speed; the checkout's says it too.
            ANSIBLE_PIPELINING="True",
        )

    def run(self, *argv, timeout=120):
        """CompletedProcess of ``argv`` run in the run directory, the collection read-only."""
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY_THEN_EXEC]
            + [str(self.collections)]
            + [str(arg) for arg in argv],
            cwd=self.run_dir,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def playbook(self, name, *extra):
        result = self.run(
            "ansible-playbook", "megapower.mpcpu.%s" % name, "-i", INVENTORY, *extra, timeout=900
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        return result.stdout


def checkout_ok(*argv, cwd):
    result = ansible_cli.run(*argv, cwd=cwd, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("installed-collection")
    dist, collections, run_dir = work / "dist", work / "collections", work / "run"
    run_dir.mkdir()
    checkout_ok("ansible-galaxy", "collection", "build", "--output-path", dist, cwd=ROOT)
    (tarball,) = dist.glob("megapower-mpcpu-*.tar.gz")
    collection = InstalledCollection(collections, run_dir)
    # Installed without the checkout's ansible.cfg, which resolves megapower.mpcpu to the checkout.
    result = subprocess.run(
        ["ansible-galaxy", "collection", "install", "-p", str(collections), str(tarball)],
        cwd=run_dir,
        env=collection.environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return collection


@pytest.fixture(scope="module")
def deployed_site(installed):
    with lab.running(topology.load(TOPOLOGY)) as state:
        # The simulator is lab-only and not in the tarball: it comes from the checkout.
        checkout_ok("ansible-playbook", "-i", INVENTORY, "lab/playbooks/lab_devices.yml", cwd=ROOT)
        first = installed.playbook("site", "-e", "verify_fail_on_failure=true")
        second = installed.playbook("site")
        yield state, first, second


def changed_counts(output):
    recap = output[output.rindex("PLAY RECAP") :]
    return {
        host: int(count) for host, count in re.findall(r"^(\S+)\s+:.*changed=(\d+)", recap, re.M)
    }


def verify(installed, output_dir=None):
    """Cells of the report verify writes in the run directory, or ``output_dir`` relative to it."""
    extra = ("-e", "mpcpu_output_dir=%s" % output_dir) if output_dir else ()
    installed.playbook("verify", "-e", "verify_fail_on_failure=false", *extra)
    report_dir = installed.run_dir / (output_dir or ".") / "mpcpu-verify-lab"
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


def test_the_runs_see_the_installed_collection_read_only_from_outside_the_checkout(installed):
    assert ROOT not in installed.run_dir.parents
    result = installed.run("touch", installed.collections / "ansible_collections" / "written")
    assert result.returncode != 0 and "Read-only file system" in result.stderr


def test_validate_by_fqcn_accepts_the_lab_site(installed):
    installed.playbook("validate")


def test_first_run_deploys_and_second_run_changes_nothing(deployed_site):
    _lab, first, second = deployed_site
    assert sum(changed_counts(first).values()) > 0
    assert changed_counts(second) and set(changed_counts(second).values()) == {0}


def test_every_row_passes_for_every_mpcpu(deployed_site, installed):
    cells = verify(installed)
    assert set(cells) == {(mpcpu, row) for mpcpu in MPCPUS for row in ROWS}
    assert failing(cells) == []
    assert (installed.run_dir / "mpcpu-verify-lab" / "report.md").read_text().startswith("# Verify")


def test_render_writes_the_bundle_into_the_run_directory(installed):
    installed.playbook("render")
    bundle = installed.run_dir / "mpcpu-bundle-lab"
    assert (bundle / "port-matrix.md").read_text().startswith("# Port matrix")
    assert (installed.run_dir / "mpcpu-bundle-lab.diff").is_file()


def test_a_stopped_ntp_server_fails_exactly_the_ntp_row(deployed_site, installed):
    state = deployed_site[0]
    on(state, "cctv-srv", "systemctl stop chrony")
    try:
        cells = verify(installed, "ntp-stopped")
    finally:
        on(state, "cctv-srv", "systemctl start chrony")
    assert failing(cells) == sorted((mpcpu, "ntp") for mpcpu in MPCPUS)


def test_a_removed_firewall_rule_fails_exactly_the_alarm_email_row(deployed_site, installed):
    state = deployed_site[0]
    chain = on(state, "cctv-srv", "nft -a list chain inet mpcpu from_mpcpu_networks")
    handle = re.search(r'comment "Alarm Email" # handle (\d+)', chain).group(1)
    on(state, "cctv-srv", "nft delete rule inet mpcpu from_mpcpu_networks handle %s" % handle)
    cells = verify(installed, "rule-removed")
    assert failing(cells) == sorted((mpcpu, "alarm_email") for mpcpu in MPCPUS)
    installed.playbook("site", "--tags", "firewall", "-e", "mpcpu_output_dir=rule-restored")
    assert failing(verify(installed, "rule-restored")) == []


def test_nothing_was_written_into_the_installed_collection(installed):
    result = installed.run("ansible-galaxy", "collection", "verify", "--offline", "megapower.mpcpu")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully verified" in result.stdout
