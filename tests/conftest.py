"""Session-wide set-up: the collection importable, markers known, no lab host left behind.

The same tests run under plain pytest (pytest.ini: collections/ on the path) and under
`ansible-test units` (its own pytest config, the collection laid out in a temporary
.../ansible_collections/megapower/mpcpu tree): what pytest.ini says is repeated here for it.
"""

import importlib
import os
import pathlib
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
MARKERS = (
    "lab: needs root and systemd-nspawn; boots real test hosts",
    "slow: takes more than a few seconds",
    "interop: talks to independent implementations (daemons or libraries) on loopback",
)


def _link_collection():
    """A fresh clone run with plain pytest: the link scripts/bootstrap.sh would make."""
    link = ROOT / "collections" / "ansible_collections" / "megapower" / "mpcpu"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(pathlib.Path("..", "..", ".."))
        importlib.invalidate_caches()


def _export_paths():
    """Under ansible-test: lab/ and tests/ importable, the collection too in started processes."""
    for directory in (ROOT / "lab", ROOT / "tests"):
        if str(directory) not in sys.path:
            sys.path.append(str(directory))
    present = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    wanted = [str(ROOT / "lab"), str(ROOT.parents[2])]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [path for path in wanted if path not in present] + present
    )


if ROOT.parent.parent.name == "ansible_collections":
    _export_paths()
else:
    _link_collection()


def pytest_configure(config):
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def _molecule_labs():
    """The labs of the molecule scenarios: scripts/test runs them beside the lab tests, so what
    they leave up meanwhile is theirs to tear down."""
    return sorted(
        yaml.safe_load(path.read_text())["name"] for path in ROOT.glob("molecule/*/lab.yml")
    )


def _lab_leftovers():
    from mpcpu_lab import lab  # noqa: PLC0415 - only runs as root with lab tests need it

    found = lab.leftovers(ignore=_molecule_labs())
    return {kind: set(map(str, names)) for kind, names in found.items()}


@pytest.fixture(scope="session", autouse=True)
def lab_leaves_nothing_behind(request):
    wanted = os.geteuid() == 0 and any(
        item.get_closest_marker("lab") for item in request.session.items
    )
    before = _lab_leftovers() if wanted else {}
    yield
    if not wanted:
        return
    # Compared with the start, and the molecule scenarios' labs left out, so that labs another
    # run owns at the same time do not count.
    added = {kind: names - before.get(kind, set()) for kind, names in _lab_leftovers().items()}
    left = {kind: sorted(names) for kind, names in added.items() if names}
    assert not left, "the lab tests left these behind: %s" % left
