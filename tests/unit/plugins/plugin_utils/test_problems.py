"""One problem form, one problem list, one error type and one port check for the collection."""

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import checks
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import problems, site_model


def test_each_problem_is_listed_once_in_the_order_found():
    found = problems.Problems()
    found.add("pc-server", "ansible_host", "bad")
    found.add("mpcpu-a", "mpcpu_ip", "bad")
    found.extend_texts(["pc-server: ansible_host: bad", "router: groups: is not in x"])
    assert found == [
        "pc-server: ansible_host: bad",
        "mpcpu-a: mpcpu_ip: bad",
        "router: groups: is not in x",
    ]


def test_the_error_lists_every_problem():
    error = problems.SiteModelError(["a: b: c", "d: e: f"])
    assert error.errors == ["a: b: c", "d: e: f"]
    assert str(error) == "invalid MPCPU site (2 errors):\n- a: b: c\n- d: e: f"


def test_the_site_model_raises_and_reports_with_the_same_ones():
    assert site_model.SiteModelError is problems.SiteModelError
    assert site_model.Problems is problems.Problems
    assert site_model.problem is problems.problem
    assert site_model.port_problem is appendix_d.port_problem


@pytest.mark.parametrize("value", [0, 65536, True, "69", 1.5])
def test_the_modules_refuse_a_port_with_the_site_models_words(value):
    with pytest.raises(checks.MpcpuError) as refused:
        checks.port(value, "port", "time_firmware")
    assert str(refused.value) == "port: %s" % site_model.port_problem(value)


@pytest.mark.parametrize("value", [1, 69, 65535])
def test_a_port_number_has_no_problem(value):
    assert appendix_d.port_problem(value) is None


def test_a_problem_several_places_share_is_one_line_naming_them():
    texts = ["a: f: bad", "b: g: other", "c: f: bad"]
    assert problems.merged(texts) == ["a, c: f: bad", "b: g: other"]


def test_a_problem_on_many_places_names_the_first_ten_and_counts_the_rest():
    texts = ["h%02d: f: bad" % number for number in range(12)]
    (line,) = problems.merged(texts)
    assert line == "h00, h01, h02, h03, h04, h05, h06, h07, h08, h09 and 2 more: f: bad"
