# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify report: passed, failed or not probed per MPCPU and Appendix D row.

Input is the list of probe results verify.yml collects, each
``{"mpcpu", "row", "passed", "detail"}``. A row the MPCPU starts (snapshot, NTP, alarm e-mail,
DHCP) that no probe reported is "not probed": only a commissioning probe carrying the MPCPU's
address can start it, and a site may have none. A row the PC side starts that no probe
reported is a failure, so a PC-side probe that silently did not run cannot look like a pass.
In a cell, ``passed`` is True, False, or None for not probed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from xml.etree import ElementTree

NOT_PROBED = "not probed"
NO_PC_PROBE = "no probe reported this flow from the PC side"
MPCPU_INITIATOR = "mpcpu"
MARKS = {True: "pass", False: "**FAIL**", None: NOT_PROBED}


def _missing_cell(name, row):
    if row["initiator"] == MPCPU_INITIATOR:
        return (name, row, None, NOT_PROBED)
    return (name, row, False, NO_PC_PROBE)


def report_cells(model, results):
    """(mpcpu, row, passed, detail) for every MPCPU and every row the site uses, in model order;
    ``passed`` is None for a row the MPCPU starts that no probe reported."""
    by_key = {}
    for result in results:
        by_key.setdefault((result["mpcpu"], result["row"]), []).append(result)
    cells = []
    for device in model["mpcpus"]:
        for row in model["rows"]:
            found = by_key.get((device["name"], row["id"]))
            if not found:
                cells.append(_missing_cell(device["name"], row))
                continue
            # A row played by several PC hosts passes only when every one of its flows does.
            passed = all(result["passed"] for result in found)
            details = [str(r.get("detail", "")) for r in found if r["passed"] == passed]
            cells.append((device["name"], row, passed, "; ".join(details)))
    return cells


def _pairs(model):
    """(first, second) of each hot-standby pair, in model order."""
    names = [device["name"] for device in model["mpcpus"]]
    mates = dict((device["name"], device.get("mate")) for device in model["mpcpus"])
    return [
        (name, mates[name])
        for name in names
        if mates[name] and names.index(mates[name]) > names.index(name)
    ]


def pair_findings(model, results):
    """For each pair and row failing on a CPU of it: (first, second, row, outage), where
    ``outage`` says the row fails on both CPUs, so the matrix has no CPU serving it."""
    passed = dict(
        ((name, row["id"]), ok) for name, row, ok, _detail in report_cells(model, results)
    )
    findings = []
    for first, second in _pairs(model):
        for row in model["rows"]:
            failing = [name for name in (first, second) if passed[(name, row["id"])] is False]
            if failing:
                findings.append((first, second, row, len(failing) == 2))
    return findings


def _pair_lines(model, results):
    lines = []
    for first, second, row, outage in pair_findings(model, results):
        if outage:
            lines.append(
                "- **OUTAGE** pair %s/%s, %s: fails on both CPUs" % (first, second, row["purpose"])
            )
        else:
            lines.append(
                "- pair %s/%s, %s: fails on one CPU, its mate serves"
                % (first, second, row["purpose"])
            )
    return ["", "## Pairs", ""] + lines if lines else []


def summary(model, results):
    cells = report_cells(model, results)
    states = [cell[2] for cell in cells]
    return {
        "total": len(cells),
        "passed": states.count(True),
        "failed": states.count(False),
        "not_probed": states.count(None),
    }


def markdown(model, results):
    cells = report_cells(model, results)
    counts = summary(model, results)
    lines = [
        "# Verify report: %s" % model["name"],
        "",
        "%d passed, %d failed, %d not probed"
        % (counts["passed"], counts["failed"], counts["not_probed"]),
        "",
        "| MPCPU | " + " | ".join(row["purpose"] for row in model["rows"]) + " |",
        "|---|" + "---|" * len(model["rows"]),
    ]
    for device in model["mpcpus"]:
        marks = [MARKS[passed] for name, _row, passed, _detail in cells if name == device["name"]]
        lines.append("| %s | %s |" % (device["name"], " | ".join(marks)))
    lines += _cell_list("Failures", [cell for cell in cells if cell[2] is False])
    lines += _not_probed_list([cell for cell in cells if cell[2] is None])
    lines += _pair_lines(model, results)
    return "\n".join(lines) + "\n"


def _cell_list(title, cells):
    if not cells:
        return []
    items = ["- %s, %s: %s" % (name, row["purpose"], detail) for name, row, _p, detail in cells]
    return ["", "## %s" % title, ""] + items


def _not_probed_list(cells):
    if not cells:
        return []
    return [
        "",
        "## Not probed",
        "",
        "The MPCPU starts these flows: only a host carrying its address (group",
        "mpcpu_commissioning_probes, or verify_device_side_group) can probe them.",
        "",
    ] + ["- %s, %s" % (name, row["purpose"]) for name, row, _p, _detail in cells]


def junit_xml(model, results):
    cells = report_cells(model, results)
    counts = summary(model, results)
    suites = ElementTree.Element("testsuites", name="mpcpu-verify-%s" % model["name"])
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name="appendix-d",
        tests=str(counts["total"]),
        failures=str(counts["failed"]),
        errors="0",
        skipped=str(counts["not_probed"]),
    )
    for name, row, passed, detail in cells:
        case = ElementTree.SubElement(suite, "testcase", classname=name, name=row["id"])
        if passed is None:
            ElementTree.SubElement(case, "skipped", message=detail)
        elif not passed:
            ElementTree.SubElement(case, "failure", message=detail).text = detail
        else:
            ElementTree.SubElement(case, "system-out").text = detail
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
