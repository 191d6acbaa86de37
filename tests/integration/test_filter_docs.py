"""Every filter the collection exports documents itself: ansible-doc lists and renders it from
its sidecar plugins/filter/<name>.yml, and the documented options are the function's own
parameters (order of the positional ones, which are required, and the defaults)."""

import importlib
import inspect
import json
import pathlib

import pytest

import ansible_cli
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import policy

ROOT = pathlib.Path(__file__).resolve().parents[2]
FILTER_DIR = ROOT / "plugins" / "filter"
AUTHOR = "MegaPower automation team (@megapower-mpcpu)"
# Filters that hand **options on to another function: that function's parameters are options.
OPTIONS_PASSED_TO = {
    "firewall_policy": policy.build_host_policy,
    "firewall_files": policy.build_host_policy,
    "firewall_foreign_rulesets": policy.build_host_policy,
    "firewall_export_files": policy.build_host_policy,
    "firewall_ruleset": policy.build_host_policy,
    "firewall_site_router_acl": policy.build_site_router_policy,
}


def exported_filters():
    """{filter name: function} over every filter plugin file of the collection."""
    filters = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        plugin = importlib.import_module(
            "ansible_collections.megapower.mpcpu.plugins.filter." + path.stem
        )
        filters.update(plugin.FilterModule().filters())
    return filters


FILTERS = exported_filters()


@pytest.fixture(scope="module")
def docs():
    names = ["megapower.mpcpu." + name for name in sorted(FILTERS)]
    result = ansible_cli.run("ansible-doc", "-t", "filter", "--json", *names, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return {name.split(".")[-1]: doc for name, doc in json.loads(result.stdout).items()}


def plain(value):
    return list(value) if isinstance(value, tuple) else value


def parameters(name):
    """{parameter: (default or inspect.Parameter.empty)} a filter takes besides its input."""
    signature = inspect.signature(FILTERS[name])
    found = {}
    for parameter in list(signature.parameters.values())[1:]:
        if parameter.kind == parameter.VAR_KEYWORD:
            passed_on = inspect.signature(OPTIONS_PASSED_TO[name]).parameters.values()
            found.update((p.name, p.default) for p in passed_on if p.default is not p.empty)
        else:
            found[parameter.name] = parameter.default
    return found


def test_the_collection_exports_its_32_filters():
    assert len(FILTERS) == 32


def test_every_filter_has_a_sidecar_and_every_sidecar_a_filter():
    assert sorted(path.stem for path in FILTER_DIR.glob("*.yml")) == sorted(FILTERS)


def test_ansible_doc_lists_every_filter_as_documented():
    result = ansible_cli.run("ansible-doc", "-t", "filter", "-l", "--json", "megapower.mpcpu")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert sorted(listed) == sorted("megapower.mpcpu." + name for name in FILTERS)
    assert all(text and text != "UNDOCUMENTED" for text in listed.values()), listed


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_documentation_renders(docs, name):
    doc = docs[name]
    assert doc["doc"]["name"] == name
    assert doc["doc"]["short_description"] and doc["doc"]["description"]
    assert doc["doc"]["author"] in (AUTHOR, [AUTHOR])
    assert doc["doc"]["options"]["_input"]["required"] is True
    assert "megapower.mpcpu.%s" % name in doc["examples"]
    assert doc["return"]["_value"]["description"]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_documentation_matches_its_parameters(docs, name):
    options = dict(docs[name]["doc"]["options"])
    options.pop("_input")
    taken = parameters(name)
    assert set(options) == set(taken)
    for option, default in taken.items():
        if default is inspect.Parameter.empty:
            assert options[option].get("required") is True, option
        else:
            assert not options[option].get("required"), option
            assert options[option].get("default") == plain(default), option
    positional = docs[name]["doc"].get("positional") or ""
    positional = [item.strip() for item in positional.split(",") if item.strip()]
    in_order = list(inspect.signature(FILTERS[name]).parameters)[1 : 1 + len(positional)]
    assert positional == in_order
