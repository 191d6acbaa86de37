"""Every module documents itself: ansible-doc renders it, with examples, return values and the
check/diff attributes, and its documented options are exactly its argument spec."""

import importlib
import json
import pathlib

import pytest

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))


def ansible_doc(name):
    result = ansible_cli.run("ansible-doc", "--json", "megapower.mpcpu.%s" % name, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["megapower.mpcpu.%s" % name]


def test_there_are_modules_to_check():
    assert {"mpcpu_time", "mpcpu_firmware", "mpcpu_status", "mpcpu_probe"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_documentation_matches_its_argument_spec(name):
    doc = ansible_doc(name)
    assert doc["examples"].strip()
    assert doc["return"]
    assert {"check_mode", "diff_mode"} <= set(doc["doc"]["attributes"])
    module = importlib.import_module("ansible_collections.megapower.mpcpu.plugins.modules." + name)
    assert set(doc["doc"]["options"]) == set(module.ARGUMENT_SPEC)
