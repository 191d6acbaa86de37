"""The shipped Prometheus alert rules: valid for promtool, and firing when they should.

promtool comes from Debian's ``prometheus`` package, fetched with ``apt-get download`` into
the tools cache and unpacked there with ``dpkg-deb -x``; never installed, because installing
the package would start a Prometheus server on this machine.
"""

import fcntl
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = ROOT / "roles" / "metrics" / "files" / "prometheus" / "mpcpu-alerts.rules.yml"
RULE_TESTS = pathlib.Path(__file__).resolve().parent / "prometheus" / "mpcpu-alerts.test.yml"
CACHE = pathlib.Path(
    os.environ.get("MPCPU_CACHE", pathlib.Path.home() / ".cache" / "megapower-mpcpu")
)
TOOLS = CACHE / "tools"
PROMETHEUS_ROOT = TOOLS / "prometheus"
PROMTOOL = PROMETHEUS_ROOT / "usr" / "bin" / "promtool"


def _fetch_deb():
    found = sorted(TOOLS.glob("prometheus_*.deb"))
    if found:
        return found[-1]
    download = ["apt-get", "download", "prometheus"]
    done = subprocess.run(download, cwd=TOOLS, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # the package lists may be missing or old
        subprocess.run(["apt-get", "update"], capture_output=True, check=False)
        done = subprocess.run(download, cwd=TOOLS, capture_output=True, text=True, check=False)
    found = sorted(TOOLS.glob("prometheus_*.deb"))
    if not found:
        pytest.fail("apt-get download prometheus failed: %s" % done.stderr.strip()[-1000:])
    return found[-1]


@pytest.fixture(scope="module")
def promtool():
    TOOLS.mkdir(parents=True, exist_ok=True)
    with (TOOLS / "prometheus.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.access(PROMTOOL, os.X_OK):
            unpacked = pathlib.Path(tempfile.mkdtemp(prefix="prometheus.", dir=TOOLS))
            try:
                subprocess.run(["dpkg-deb", "-x", str(_fetch_deb()), str(unpacked)], check=True)
                shutil.rmtree(PROMETHEUS_ROOT, ignore_errors=True)
                unpacked.rename(PROMETHEUS_ROOT)
            finally:
                shutil.rmtree(unpacked, ignore_errors=True)
    return str(PROMTOOL)


def run(argv, cwd=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def test_promtool_accepts_the_rules_file(promtool):
    done = run([promtool, "check", "rules", str(RULES)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


def test_the_alerts_fire_and_clear_as_their_unit_tests_say(promtool, tmp_path):
    shutil.copy(RULES, tmp_path)
    shutil.copy(RULE_TESTS, tmp_path)
    done = run([promtool, "test", "rules", RULE_TESTS.name], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_rule_test_that_expects_the_wrong_alert_fails(promtool, tmp_path):
    shutil.copy(RULES, tmp_path)
    wrong = RULE_TESTS.read_text().replace(
        "mpcpu: lobby-cpu, address", "mpcpu: dock-cpu, address", 1
    )
    (tmp_path / RULE_TESTS.name).write_text(wrong)
    done = run([promtool, "test", "rules", RULE_TESTS.name], cwd=tmp_path)
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr
