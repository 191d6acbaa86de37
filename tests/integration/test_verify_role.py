"""Role megapower.mpcpu.verify: passed, failed and not probed told apart, and the run judged.

The probes are not run here (the lab tests run them): the role's report entry point gets the
results a verify run would collect, and the site is the example inventory's.
"""

import json
import pathlib

import yaml

import ansible_cli
from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "example" / "hosts.yml"
PLAYBOOK = """
- name: Compile the site
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.site_model
      vars: {site_model_show_matrix: false}
- name: Write the verify report
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.verify
"""


def mpcpus():
    groups = yaml.safe_load(INVENTORY.read_text())["all"]["children"]["mpcpu"]["children"]
    return [name for group in groups.values() for name in group["hosts"]]


def pc_side_results(passed=True):
    """What a run without a commissioning probe collects: every flow the PC side starts."""
    return [
        {"mpcpu": name, "row": row.id, "passed": passed, "detail": "seen"}
        for name in mpcpus()
        for row in appendix_d.ROWS
        if appendix_d.initiator(row) == appendix_d.PC
    ]


def report_run(tmp_path, results, *extra):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "results.json").write_text(json.dumps({"verify_results": results}))
    return ansible_cli.run(
        "ansible-playbook",
        "-i",
        INVENTORY,
        tmp_path / "play.yml",
        "-e",
        "@%s" % (tmp_path / "results.json"),
        *extra,
        cwd=tmp_path,
    )


def test_rows_nobody_probed_on_the_mpcpu_side_are_reported_and_do_not_fail_the_run(tmp_path):
    result = report_run(tmp_path, pc_side_results())
    assert result.returncode == 0, result.stdout + result.stderr
    report_dir = tmp_path / "mpcpu-verify-example-campus"
    assert "verify example-campus: 15 passed, 0 failed, 20 not probed; report written to %s" % (
        report_dir
    ) in " ".join(result.stdout.split())
    assert "15 passed, 0 failed, 20 not probed" in (report_dir / "report.md").read_text()


def test_the_operator_can_require_the_device_side(tmp_path):
    result = report_run(tmp_path, pc_side_results(), "-e", "verify_require_device_side=true")
    assert result.returncode != 0
    assert "20 of 35 checks not probed (verify_require_device_side is true)" in " ".join(
        result.stdout.split()
    )


def test_a_failed_flow_fails_the_run(tmp_path):
    result = report_run(tmp_path, pc_side_results(passed=False))
    assert result.returncode != 0
    assert "15 of 35 checks failed" in result.stdout


def test_a_verify_option_of_the_wrong_type_is_refused(tmp_path):
    result = report_run(tmp_path, pc_side_results(), "-e", "verify_require_device_side=maybe")
    assert result.returncode != 0
    assert "verify_require_device_side" in result.stdout
