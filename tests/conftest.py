"""Session-wide guard: a run that boots lab hosts must leave none of them behind."""

import os

import pytest


def _lab_leftovers():
    from mpcpu_lab import lab  # noqa: PLC0415 - only runs as root with lab tests need it

    return {kind: set(map(str, names)) for kind, names in lab.leftovers().items()}


@pytest.fixture(scope="session", autouse=True)
def lab_leaves_nothing_behind(request):
    wanted = os.geteuid() == 0 and any(
        item.get_closest_marker("lab") for item in request.session.items
    )
    before = _lab_leftovers() if wanted else {}
    yield
    if not wanted:
        return
    # Compared with the start, so that labs another run owns at the same time do not count.
    added = {kind: names - before.get(kind, set()) for kind, names in _lab_leftovers().items()}
    left = {kind: sorted(names) for kind, names in added.items() if names}
    assert not left, "the lab tests left these behind: %s" % left
