"""Every role has a README (galaxy-importer refuses a collection without one) that points at its
argument specs and shows a play using the role by its FQCN."""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(path.parent.parent.name for path in ROOT.glob("roles/*/meta/argument_specs.yml"))
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


def roles_in_plays(text):
    """Role names of every play in the README's YAML blocks."""
    names = []
    for block in YAML_BLOCK.findall(text):
        plays = yaml.safe_load(block)
        if not isinstance(plays, list):
            continue
        for play in plays:
            for role in play.get("roles", []) if isinstance(play, dict) else []:
                names.append(role["role"] if isinstance(role, dict) else role)
    return names


def test_there_are_roles_to_check():
    assert len(ROLES) >= 8


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_points_at_its_specs_and_shows_a_play(role):
    readme = ROOT / "roles" / role / "README.md"
    assert readme.is_file()
    text = readme.read_text()
    assert text.startswith("# megapower.mpcpu.%s\n" % role)
    assert "meta/argument_specs.yml" in text
    used = roles_in_plays(text)
    assert "megapower.mpcpu." + role in used
    assert all(name.startswith("megapower.mpcpu.") for name in used), used
