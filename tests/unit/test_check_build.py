"""tests/tools/check_build.py lets through what a user needs and flags everything else."""

import importlib.util
import pathlib

TOOL = pathlib.Path(__file__).resolve().parents[1] / "tools" / "check_build.py"
SPEC = importlib.util.spec_from_file_location("check_build", TOOL)
check_build = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_build)

SHIPPED = list(check_build.REQUIRED) + [
    "LICENSE",
    "CHANGELOG.md",
    "changelogs/changelog.yaml",
    "plugins/filter/site.py",
    "plugins/filter/site_model.yml",
    "plugins/doc_fragments/mpcpu.py",
    "roles/ntp/files/no-clock-control.conf",
    "roles/ntp/README.md",
    "playbooks/verify.yml",
]


def test_what_a_user_needs_passes():
    assert check_build.problems(SHIPPED) == ([], [])


def test_lab_tests_developer_files_and_reports_are_flagged():
    leftovers = [
        ".config/molecule/config.yml",
        "execution-environment.yml",
        "ee/build.sh",
        "tests/unit/test_check_build.py",
        "lab/mpcpu_sim/device.py",
        "molecule/ntp/molecule.yml",
        "benchmarks/README.md",
        "build/verify/report.md",
        "verify-report/junit.xml",
        "lab/roles/lab_simulator/tasks/main.yml",
        "lab/playbooks/lab_devices.yml",
        "plugins/module_utils/__pycache__/tftp.cpython-311.pyc",
        "changelogs/fragments/9-packaging.yml",
    ]
    missing, unexpected = check_build.problems(SHIPPED + leftovers)
    assert missing == []
    assert unexpected == sorted(leftovers)


def test_a_missing_required_file_is_named():
    missing, _unexpected = check_build.problems([n for n in SHIPPED if n != "bindep.txt"])
    assert missing == ["bindep.txt"]
