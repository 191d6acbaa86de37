"""Module code (modules and module_utils run on the managed hosts) works on every target Python.

meta/runtime.yml says ansible-core >= 2.19; the releases supported (2.19, 2.20, 2.21) list
target Pythons from 3.8 up to 3.14, so that is the floor and the ceiling for this code:
its grammar is parsed for each of them, vermin (when installed) finds no standard-library
feature newer than 3.8, and every interpreter of those versions on this machine compiles it.
"""

import ast
import os
import pathlib
import shutil
import subprocess
import sys
import warnings

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIRES_ANSIBLE = ">=2.19.0"
TARGET_PYTHONS = [(3, minor) for minor in range(8, 15)]
MODULE_CODE = sorted(
    path
    for directory in ("plugins/modules", "plugins/module_utils")
    for path in (ROOT / directory).rglob("*.py")
)


def test_the_floor_matches_requires_ansible():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == REQUIRES_ANSIBLE


def test_the_installed_ansible_test_targets_no_python_outside_the_range():
    constants = pytest.importorskip("ansible_test._util.target.common.constants")
    listed = constants.REMOTE_ONLY_PYTHON_VERSIONS + constants.CONTROLLER_PYTHON_VERSIONS
    versions = {tuple(int(part) for part in version.split(".")) for version in listed}
    assert versions <= set(TARGET_PYTHONS)


@pytest.mark.parametrize("version", [v for v in TARGET_PYTHONS if v <= sys.version_info[:2]])
def test_module_code_parses_with_the_grammar_of(version):
    for path in MODULE_CODE:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SyntaxWarning)
            ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=version)


def test_module_code_needs_nothing_newer_than_the_floor():
    vermin = shutil.which("vermin")
    if not vermin:
        pytest.skip("vermin is not installed")
    floor = "%d.%d" % TARGET_PYTHONS[0]
    result = subprocess.run(
        [vermin, "--no-tips", "--violations", "--eval-annotations", "-t=%s-" % floor]
        + [str(path) for path in MODULE_CODE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


COMPILE = (
    "import sys, warnings\n"
    "warnings.simplefilter('error')\n"
    "for name in sys.argv[1:]:\n"
    "    with open(name, encoding='utf-8') as handle:\n"
    "        compile(handle.read(), name, 'exec', dont_inherit=True)\n"
)


def find_interpreter(version):
    """pythonX.Y on this machine: pyenv's own build first (its shims only run the global one)."""
    name = "python%d.%d" % version
    pyenv_root = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv"))
    builds = sorted(pyenv_root.glob("versions/%d.%d.*/bin/%s" % (version + (name,))))
    return str(builds[-1]) if builds else shutil.which(name)


@pytest.mark.parametrize("version", TARGET_PYTHONS, ids=lambda v: "python%d.%d" % v)
def test_module_code_compiles_with_the_interpreter_of(version):
    interpreter = find_interpreter(version)
    if not interpreter:
        pytest.skip("no python%d.%d on this machine" % version)
    result = subprocess.run(
        [interpreter, "-c", COMPILE] + [str(path) for path in MODULE_CODE],
        capture_output=True,
        text=True,
        check=False,
    )
    if "pyenv: python" in result.stderr and "command not found" in result.stderr:
        pytest.skip("python%d.%d is a pyenv shim without an interpreter" % version)
    assert result.returncode == 0, result.stderr
