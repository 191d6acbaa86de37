"""The Prometheus textfile renderer: exposition format, escaping, naming rules, atomic files."""

import os

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import prom_textfile
from ansible_collections.megapower.mpcpu.plugins.module_utils.prom_textfile import Family


def test_families_render_with_help_type_and_sorted_labels():
    up = Family("mpcpu_activity_stream_up", "gauge", "1 while connected.")
    up.add({"mpcpu": "lobby-cpu", "address": "198.51.100.10"}, 1)
    records = Family("mpcpu_activity_records_total", "counter", "Records written.")
    records.add({"mpcpu": "lobby-cpu", "address": "198.51.100.10"}, 42)
    assert prom_textfile.render([up, records]) == (
        "# HELP mpcpu_activity_stream_up 1 while connected.\n"
        "# TYPE mpcpu_activity_stream_up gauge\n"
        'mpcpu_activity_stream_up{address="198.51.100.10",mpcpu="lobby-cpu"} 1\n'
        "# HELP mpcpu_activity_records_total Records written.\n"
        "# TYPE mpcpu_activity_records_total counter\n"
        'mpcpu_activity_records_total{address="198.51.100.10",mpcpu="lobby-cpu"} 42\n'
    )


def test_label_values_and_help_are_escaped():
    family = Family("mpcpu_x", "gauge", "back\\slash and\nnew line")
    family.add({"mpcpu": 'a"b\\c\nd'}, 0)
    assert prom_textfile.render([family]).splitlines() == [
        "# HELP mpcpu_x back\\\\slash and\\nnew line",
        "# TYPE mpcpu_x gauge",
        'mpcpu_x{mpcpu="a\\"b\\\\c\\nd"} 0',
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "1"),
        (False, "0"),
        (7, "7"),
        (1733590000.0, "1733590000"),
        (0.25, "0.25"),
        (1733590000.125, "1733590000.125"),
        (float("nan"), "NaN"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
    ],
)
def test_values_are_written_as_prometheus_reads_them(value, text):
    assert prom_textfile.format_value(value) == text


def test_a_family_without_samples_still_says_what_it_is():
    text = prom_textfile.render([Family("mpcpu_snapshots_stored_total", "counter", "Stored.")])
    assert text == (
        "# HELP mpcpu_snapshots_stored_total Stored.\n# TYPE mpcpu_snapshots_stored_total counter\n"
    )


@pytest.mark.parametrize(
    ("family", "message"),
    [
        (Family("mpcpu-bad", "gauge", "h"), "is not a metric name"),
        (Family("__mpcpu", "gauge", "h"), "is not a metric name"),
        (Family("mpcpu_x", "summary", "h"), "is not one of"),
        (Family("mpcpu_records", "counter", "h"), "a counter's name ends with _total"),
        (Family("mpcpu_x", "gauge", "h", [({"bad-label": "v"}, 1)]), "is not a label name"),
        (Family("mpcpu_x", "gauge", "h", [({"__name": "v"}, 1)]), "is not a label name"),
        (
            Family("mpcpu_x", "gauge", "h", [({"mpcpu": "a"}, 1), ({"mpcpu": "a"}, 2)]),
            "two samples with the labels",
        ),
    ],
)
def test_names_and_labels_outside_the_rules_are_refused(family, message):
    with pytest.raises(ValueError, match=message):
        prom_textfile.render([family])


def test_a_metric_given_twice_is_refused():
    with pytest.raises(ValueError, match="given 2 times"):
        prom_textfile.render([Family("mpcpu_x", "gauge", "h"), Family("mpcpu_x", "gauge", "h")])


def test_the_file_is_replaced_whole_and_readable_by_node_exporter(tmp_path):
    old_umask = os.umask(0o077)
    try:
        path = prom_textfile.write_atomically(str(tmp_path), "mpcpu_a.prom", "first\n")
        inode = os.stat(path).st_ino
        prom_textfile.write_atomically(str(tmp_path), "mpcpu_a.prom", "second\n")
    finally:
        os.umask(old_umask)
    assert sorted(os.listdir(str(tmp_path))) == ["mpcpu_a.prom"]  # no temporary left behind
    assert (tmp_path / "mpcpu_a.prom").read_text() == "second\n"
    assert os.stat(path).st_ino != inode  # a rename, not a rewrite in place
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    prom_textfile.write_atomically(str(tmp_path), "mpcpu_a.prom", "good\n")

    def broken_replace(_source, _target):
        raise OSError("disk full")

    monkeypatch.setattr(prom_textfile.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        prom_textfile.write_atomically(str(tmp_path), "mpcpu_a.prom", "bad\n")
    assert sorted(os.listdir(str(tmp_path))) == ["mpcpu_a.prom"]
    assert (tmp_path / "mpcpu_a.prom").read_text() == "good\n"


@pytest.mark.parametrize("name", ["mpcpu_a.txt", "sub/mpcpu_a.prom"])
def test_only_plain_prom_names_are_written(tmp_path, name):
    with pytest.raises(ValueError, match="plain name ending in .prom"):
        prom_textfile.write_atomically(str(tmp_path), name, "x\n")
