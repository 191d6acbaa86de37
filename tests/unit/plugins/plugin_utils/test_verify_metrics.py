"""The verify run as Prometheus metrics: a series per judged cell, none for unprobed ones."""

from unit.plugins.plugin_utils.verify_results import all_pass

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import verify_metrics


def test_each_judged_cell_is_a_series_and_unprobed_ones_are_left_out(model):
    results = [r for r in all_pass(model) if r["row"] != "snapshot"]
    broken = next(r for r in results if r["mpcpu"] == "mpcpu-b" and r["row"] == "ntp")
    broken.update(passed=False, detail="no NTP answer within 2 s")
    text = verify_metrics.text(model, results, 1796661600.0)
    site = model["name"]
    assert 'mpcpu_verify_row_passed{mpcpu="mpcpu-b",row="ntp",site="%s"} 0' % site in text
    assert 'mpcpu_verify_row_passed{mpcpu="mpcpu-a",row="ntp",site="%s"} 1' % site in text
    assert 'row="snapshot"' not in text
    assert 'mpcpu_verify_checks{result="failed",site="%s"} 1' % site in text
    assert 'mpcpu_verify_checks{result="not_probed",site="%s"} 2' % site in text
    assert 'mpcpu_verify_last_run_timestamp_seconds{site="%s"} 1796661600' % site in text
    rows = [line for line in text.splitlines() if line.startswith("mpcpu_verify_row_passed")]
    assert len(rows) == 12
    assert "# TYPE mpcpu_verify_row_passed gauge" in text
