"""The corpus: bad and tricky-but-valid inventories, each with the exact problems expected.

Each ``corpus/*.yml`` starts from the unit tests' good inventory (conftest) and changes it:
``set`` maps a path (``site/...``, ``groups/...``, ``hostvars/<host>/...``; list items by
index) to a new value, ``delete`` lists paths to remove. Every host's ``inventory_dir`` is the
corpus directory, as Ansible sets it, so firmware files resolve against ``corpus/files``.
``errors`` is the exact list ``site_errors`` must return (``{corpus}`` stands for the corpus
directory); an empty list means the inventory is valid and compiles. ``warnings``, when the
case has it, is the exact list of warnings (``site_model.assess_site``); ``strict_options:
true`` runs the checks as ``site_model_strict_options: true`` does.
"""

import copy
import pathlib

import pytest
import yaml

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
CASES = sorted(CORPUS.glob("*.yml"))


def _step(container, part):
    return int(part) if isinstance(container, list) else part


def _walk(root, path):
    parts = path.split("/")
    container = root
    for part in parts[:-1]:
        container = container[_step(container, part)]
    return container, _step(container, parts[-1])


def inventory_of(case, good_inventory):
    """The (site, groups, hostvars) triple the case describes, from ``good_inventory()``."""
    site, groups, hostvars = copy.deepcopy(good_inventory())
    for host_vars in hostvars.values():
        host_vars["inventory_dir"] = str(CORPUS)
    root = {"site": site, "groups": groups, "hostvars": hostvars}
    for path, value in (case.get("set") or {}).items():
        container, key = _walk(root, path)
        if isinstance(container, list) and key == len(container):
            container.append(copy.deepcopy(value))
        else:
            container[key] = copy.deepcopy(value)
    for path in case.get("delete") or []:
        container, key = _walk(root, path)
        del container[key]
    return root["site"], root["groups"], root["hostvars"]


def expected_errors(case):
    return [error.replace("{corpus}", str(CORPUS)) for error in case["errors"]]


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_corpus_inventory_gets_exactly_its_problems(path, make_inventory):
    case = yaml.safe_load(path.read_text())
    inventory = inventory_of(case, make_inventory)
    strict = case.get("strict_options", False)
    _model, errors, warnings = site_model.assess_site(*inventory, strict_options=strict)
    assert errors == expected_errors(case)
    if not strict:
        assert site_model.site_errors(*inventory) == expected_errors(case)
    if "warnings" in case:
        assert warnings == case["warnings"]
    if not case["errors"]:
        model = site_model.build_site(*inventory)
        assert set(model["hosts"]) >= {"mpcpu-a", "mpcpu-b"}


def test_every_problem_names_a_host_or_setting_and_a_field():
    for path in CASES:
        for error in yaml.safe_load(path.read_text())["errors"]:
            where, field, message = error.split(": ", 2)
            assert where and field and message, (path.name, error)
            assert "Traceback" not in message


def test_the_corpus_holds_at_least_60_bad_and_10_valid_inventories():
    cases = [yaml.safe_load(path.read_text()) for path in CASES]
    assert sum(1 for case in cases if case["errors"]) >= 60
    assert sum(1 for case in cases if not case["errors"]) >= 10
