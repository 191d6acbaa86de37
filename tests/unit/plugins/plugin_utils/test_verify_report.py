"""Verify report: every MPCPU x row cell, failures named, unprobed MPCPU-side rows told apart."""

from xml.etree import ElementTree

import pytest
from unit.plugins.plugin_utils.verify_results import all_pass

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model, verify_report


def test_all_rows_pass(model):
    text = verify_report.markdown(model, all_pass(model))
    assert "14 passed, 0 failed, 0 not probed" in text
    assert "FAIL" not in text


def test_one_broken_flow_shows_exactly_that_cell_failing(model):
    results = all_pass(model)
    broken = next(r for r in results if r["mpcpu"] == "mpcpu-b" and r["row"] == "ntp")
    broken.update(passed=False, detail="no NTP answer within 2 s")
    text = verify_report.markdown(model, results)
    assert "13 passed, 1 failed, 0 not probed" in text
    assert "- mpcpu-b, NTP: no NTP answer within 2 s" in text
    assert text.count("**FAIL**") == 1


def test_a_row_the_mpcpu_starts_that_nobody_probed_is_not_probed_not_failed(model):
    results = [r for r in all_pass(model) if r["row"] != "snapshot"]
    counts = verify_report.summary(model, results)
    assert counts == {"total": 14, "passed": 12, "failed": 0, "not_probed": 2}
    text = verify_report.markdown(model, results)
    assert "12 passed, 0 failed, 2 not probed" in text
    assert "## Not probed" in text and "- mpcpu-a, Snapshot" in text
    assert "FAIL" not in text


def test_a_row_the_pc_starts_that_nobody_probed_is_a_failure(model):
    results = [r for r in all_pass(model) if r["row"] != "easy_cpu"]
    counts = verify_report.summary(model, results)
    assert counts == {"total": 14, "passed": 12, "failed": 2, "not_probed": 0}
    assert "- mpcpu-b, EASY CPU: %s" % verify_report.NO_PC_PROBE in verify_report.markdown(
        model, results
    )


def test_junit_marks_an_unprobed_row_skipped(model):
    results = [r for r in all_pass(model) if r["row"] != "ntp"]
    root = ElementTree.fromstring(verify_report.junit_xml(model, results))
    suite = root.find("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "2")
    assert root.find(".//testcase[@classname='mpcpu-a'][@name='ntp']/skipped") is not None


def test_junit_has_one_testcase_per_cell_and_names_the_failure(model):
    results = all_pass(model)
    results[0].update(passed=False, detail="connection refused")
    root = ElementTree.fromstring(verify_report.junit_xml(model, results))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("14", "1")
    failure = root.find(".//testcase[@classname='mpcpu-a'][@name='activity_logging']/failure")
    assert failure.get("message") == "connection refused"


def test_a_row_with_two_pc_hosts_fails_when_either_flow_fails(model):
    results = all_pass(model)
    first = next(r for r in results if r["mpcpu"] == "mpcpu-a" and r["row"] == "ntp")
    results.append(dict(first, passed=False, detail="ntp-2: no answer"))
    text = verify_report.markdown(model, results)
    assert "13 passed, 1 failed, 0 not probed" in text
    assert "- mpcpu-a, NTP: ntp-2: no answer" in text


@pytest.fixture
def paired_model(make_inventory):
    site, groups, hostvars = make_inventory()
    hostvars["mpcpu-a"]["mpcpu_mate"] = "mpcpu-b"
    hostvars["mpcpu-b"]["mpcpu_mate"] = "mpcpu-a"
    return site_model.build_site(site, groups, hostvars)


def _failing(model, cells):
    results = all_pass(model)
    for result in results:
        if (result["mpcpu"], result["row"]) in cells:
            result.update(passed=False, detail="no answer")
    return results


def test_a_row_failing_on_both_cpus_of_a_pair_is_an_outage(paired_model):
    results = _failing(paired_model, {("mpcpu-a", "ntp"), ("mpcpu-b", "ntp")})
    text = verify_report.markdown(paired_model, results)
    assert "- **OUTAGE** pair mpcpu-a/mpcpu-b, NTP: fails on both CPUs" in text


def test_a_row_failing_on_one_cpu_of_a_pair_is_no_outage(paired_model):
    text = verify_report.markdown(paired_model, _failing(paired_model, {("mpcpu-b", "ntp")}))
    assert "- pair mpcpu-a/mpcpu-b, NTP: fails on one CPU, its mate serves" in text
    assert "OUTAGE" not in text


def test_an_unpaired_site_gets_no_pair_section(model):
    text = verify_report.markdown(model, _failing(model, {("mpcpu-a", "ntp"), ("mpcpu-b", "ntp")}))
    assert "## Pairs" not in text


@pytest.fixture
def three_cpu_model(make_inventory):
    """mpcpu-a and mpcpu-c a pair, listed apart by address with the unpaired mpcpu-b between."""
    site, groups, hostvars = make_inventory()
    groups["mpcpu"].append("mpcpu-c")
    hostvars["mpcpu-c"] = {"mpcpu_ip": "198.51.100.12", "mpcpu_mac": "02:00:00:00:00:0c"}
    hostvars["mpcpu-a"]["mpcpu_mate"] = "mpcpu-c"
    hostvars["mpcpu-c"]["mpcpu_mate"] = "mpcpu-a"
    return site_model.build_site(site, groups, hostvars)


def _table(text):
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_the_table_shows_a_pair_together_under_its_name(three_cpu_model):
    model = three_cpu_model
    ntp = [row["id"] for row in model["rows"]].index("ntp")
    results = _failing(model, {("mpcpu-a", "ntp"), ("mpcpu-c", "ntp"), ("mpcpu-b", "ntp")})
    table = _table(verify_report.markdown(model, results))
    assert [line.split(" | ")[0] for line in table] == [
        "| **pair mpcpu-a/mpcpu-c**",
        "| mpcpu-a",
        "| mpcpu-c",
        "| mpcpu-b",
    ]
    pair_marks = table[0].strip("| ").split(" | ")[1:]
    assert pair_marks[ntp] == "**OUTAGE**"
    assert set(pair_marks) - {"**OUTAGE**"} == {"pass"}
    # the unpaired CPU's line is as it was before pairs: no pair mark, its own failure
    assert table[3].strip("| ").split(" | ")[1:][ntp] == "**FAIL**"


def test_a_pair_with_one_failing_cpu_says_its_mate_serves(three_cpu_model):
    model = three_cpu_model
    ntp = [row["id"] for row in model["rows"]].index("ntp")
    table = _table(verify_report.markdown(model, _failing(model, {("mpcpu-c", "ntp")})))
    assert table[0].strip("| ").split(" | ")[1:][ntp] == "mate serves"


def test_an_unpaired_site_has_one_line_per_cpu(model):
    table = _table(verify_report.markdown(model, all_pass(model)))
    assert [line.split(" | ")[0] for line in table] == ["| mpcpu-a", "| mpcpu-b"]


def test_the_report_names_each_hosts_firewall_backend(model):
    report = verify_report.markdown(
        model, all_pass(model), {"gw": "firewalld", "cctv-srv": "nftables", "old": "none"}
    )
    section = report.split("## Firewalls\n\n", 1)[1]
    assert section == "- cctv-srv: nftables\n- gw: firewalld\n- old: none\n"


def test_without_firewalls_the_report_has_no_firewall_section(model):
    assert verify_report.markdown(model, all_pass(model), {}) == verify_report.markdown(
        model, all_pass(model)
    )
    assert "## Firewalls" not in verify_report.markdown(model, all_pass(model))
