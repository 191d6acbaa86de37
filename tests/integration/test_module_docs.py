"""Every module documents itself: ansible-doc renders it, with examples, return values and the
check/diff attributes, and its documented options are exactly its argument spec (names, types,
defaults, choices), shared options included through the collection's doc fragments."""

import functools
import importlib
import json
import pathlib

import pytest
import yaml

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))
AUTHOR = "MegaPower automation team (@megapower-mpcpu)"
SPEC_KEYS = ("type", "default", "choices", "elements")


@functools.lru_cache(maxsize=None)
def ansible_doc(name):
    result = ansible_cli.run("ansible-doc", "--json", "megapower.mpcpu.%s" % name, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["megapower.mpcpu.%s" % name]


def argument_spec(name):
    module = importlib.import_module("ansible_collections.megapower.mpcpu.plugins.modules." + name)
    return module.ARGUMENT_SPEC


def documented(option):
    """The option's documented spec, in the argument spec's terms (str is the default type)."""
    spec = {key: option[key] for key in SPEC_KEYS if option.get(key) is not None}
    spec.setdefault("type", "str")
    if option.get("required"):
        spec["required"] = True
    return spec


def coded(option):
    spec = {key: option[key] for key in SPEC_KEYS if option.get(key) is not None}
    spec.setdefault("type", "str")
    if "choices" in spec:
        spec["choices"] = list(spec["choices"])
    if option.get("required"):
        spec["required"] = True
    return spec


def test_there_are_modules_to_check():
    assert {"mpcpu_time", "mpcpu_firmware", "mpcpu_status", "mpcpu_probe"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_documentation_matches_its_argument_spec(name):
    doc = ansible_doc(name)
    assert doc["examples"].strip()
    assert doc["return"]
    assert {"check_mode", "diff_mode", "platform", "idempotent"} <= set(doc["doc"]["attributes"])
    assert doc["doc"]["author"] in (AUTHOR, [AUTHOR])
    options = doc["doc"]["options"]
    spec = argument_spec(name)
    assert set(options) == set(spec)
    for option in spec:
        assert documented(options[option]) == coded(spec[option]), option


def test_action_groups_hold_modules_that_accept_what_the_group_sets():
    """module_defaults for a group hands every option to every module of the group, and a
    module refuses an option it does not know: a group may only set what all its modules take."""
    groups = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
    shared = {"mpcpu": {"host", "timeout"}, "mpcpu_tftp": {"host", "port", "timeout", "retries"}}
    assert set(groups) == set(shared)
    for group, modules in groups.items():
        for name in modules:
            assert shared[group] <= set(argument_spec(name)), (group, name)
            membership = ansible_doc(name)["doc"]["attributes"]["action_group"]["membership"]
            assert "megapower.mpcpu." + group in membership, (group, name)
