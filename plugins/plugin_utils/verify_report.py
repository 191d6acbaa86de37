# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify report: one pass/fail per MPCPU and Appendix D row, as Markdown and JUnit XML.

Input is the list of probe results verify.yml collects, each
``{"mpcpu", "row", "passed", "detail"}``. A row the site uses but no probe reported counts as
failed ("not probed"), so a probe that silently did not run cannot look like a pass.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from xml.etree import ElementTree

NOT_PROBED = "not probed"


def report_cells(model, results):
    """(mpcpu, row, passed, detail) for every MPCPU and every row the site uses, in model order."""
    by_key = {}
    for result in results:
        by_key.setdefault((result["mpcpu"], result["row"]), []).append(result)
    cells = []
    for device in model["mpcpus"]:
        for row in model["rows"]:
            found = by_key.get((device["name"], row["id"]))
            if not found:
                cells.append((device["name"], row, False, NOT_PROBED))
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
            failing = [name for name in (first, second) if not passed[(name, row["id"])]]
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
    failed = [cell for cell in cells if not cell[2]]
    return {"total": len(cells), "passed": len(cells) - len(failed), "failed": len(failed)}


def markdown(model, results):
    cells = report_cells(model, results)
    counts = summary(model, results)
    lines = [
        "# Verify report: %s" % model["name"],
        "",
        "%d passed, %d failed" % (counts["passed"], counts["failed"]),
        "",
        "| MPCPU | " + " | ".join(row["purpose"] for row in model["rows"]) + " |",
        "|---|" + "---|" * len(model["rows"]),
    ]
    for device in model["mpcpus"]:
        marks = [
            "pass" if passed else "**FAIL**"
            for name, _row, passed, _detail in cells
            if name == device["name"]
        ]
        lines.append("| %s | %s |" % (device["name"], " | ".join(marks)))
    failures = [cell for cell in cells if not cell[2]]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [
            "- %s, %s: %s" % (name, row["purpose"], detail)
            for name, row, _passed, detail in failures
        ]
    lines += _pair_lines(model, results)
    return "\n".join(lines) + "\n"


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
        skipped="0",
    )
    for name, row, passed, detail in cells:
        case = ElementTree.SubElement(suite, "testcase", classname=name, name=row["id"])
        if not passed:
            ElementTree.SubElement(case, "failure", message=detail).text = detail
        else:
            ElementTree.SubElement(case, "system-out").text = detail
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
