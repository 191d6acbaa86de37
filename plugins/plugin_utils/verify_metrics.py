# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify run as Prometheus metrics, for node_exporter's textfile collector.

One series per MPCPU and row the run judged (the report's cells): 1 passed, 0 failed. A row
the MPCPU starts that no probe reported (not probed) has no series: it is no failure, and a
0 would fire the alert on a site without commissioning probes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils import prom_textfile
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import verify_report


def families(model, results, finished_at):
    site = {"site": model["name"]}
    passed = prom_textfile.Family(
        "mpcpu_verify_row_passed",
        "gauge",
        "1 when the last verify run found the MPCPU's row working, 0 when it failed.",
    )
    for name, row, state, _detail in verify_report.report_cells(model, results):
        if state is not None:
            passed.add(dict(site, mpcpu=name, row=row["id"]), state)
    counts = verify_report.summary(model, results)
    checks = prom_textfile.Family(
        "mpcpu_verify_checks", "gauge", "Checks of the last verify run, by result."
    )
    for result in ("passed", "failed", "not_probed"):
        checks.add(dict(site, result=result), counts[result])
    finished = prom_textfile.Family(
        "mpcpu_verify_last_run_timestamp_seconds", "gauge", "When the last verify run finished."
    ).add(site, finished_at)
    return [passed, checks, finished]


def text(model, results, finished_at):
    """The exposition text of a verify run that finished at ``finished_at`` (Unix time)."""
    return prom_textfile.render(families(model, results, finished_at))
