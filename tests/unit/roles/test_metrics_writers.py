"""What the collection's daemons and checks write for node_exporter's textfile collector.

The log collector, the snapshot store and the mail queue check are files of their roles,
loaded here from those files; each renders with the collection's prom_textfile, as on a host.
"""

import importlib.util
import json
import os
import pathlib
import stat

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import prom_textfile

ROOT = pathlib.Path(__file__).resolve().parents[3]
LIBRARY = str(ROOT / "plugins" / "module_utils")


def _load(name, relative):
    spec = importlib.util.spec_from_file_location(name, str(ROOT / relative))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


log_collector = _load("mpcpu_log_collector", "roles/log_collector/files/mpcpu_log_collector.py")
snapshot_store = _load("mpcpu_snapshot_store", "roles/tftp_receiver/files/mpcpu_snapshot_store.py")
mail_queue = _load("mpcpu_mail_queue_metrics", "roles/metrics/files/mpcpu_mail_queue_metrics.py")


class FakeCollector:
    def __init__(self, name, ip, stats):
        self.device = {"name": name, "ip": ip, "port": 514}
        self.stats = stats


def test_the_stream_metrics_follow_connections_and_records():
    clock = iter([1796661584.5, 1796661590.25])
    stats = log_collector.StreamStats(clock=lambda: next(clock))
    stats.connected()
    stats.written(40)
    stats.lost()
    stats.connected()
    stats.written(2)
    idle = log_collector.StreamStats()
    idle.connected()
    idle.lost()
    collectors = [
        FakeCollector("lobby-cpu", "198.51.100.10", stats),
        FakeCollector("dock-cpu", "198.51.100.12", idle),
    ]
    text = prom_textfile.render(log_collector.metric_families(prom_textfile, collectors))
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        'mpcpu_activity_stream_up{address="198.51.100.10",mpcpu="lobby-cpu"} 1',
        'mpcpu_activity_stream_up{address="198.51.100.12",mpcpu="dock-cpu"} 0',
        'mpcpu_activity_records_total{address="198.51.100.10",mpcpu="lobby-cpu"} 42',
        'mpcpu_activity_records_total{address="198.51.100.12",mpcpu="dock-cpu"} 0',
        'mpcpu_activity_last_record_timestamp_seconds{address="198.51.100.10",mpcpu="lobby-cpu"}'
        " 1796661590.25",
        'mpcpu_activity_reconnections_total{address="198.51.100.10",mpcpu="lobby-cpu"} 1',
        'mpcpu_activity_reconnections_total{address="198.51.100.12",mpcpu="dock-cpu"} 0',
    ]
    assert "# TYPE mpcpu_activity_records_total counter" in text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"metrics_dir": "relative/dir"},
            "metrics_dir: 'relative/dir' is not an absolute path (or null)",
        ),
        ({"metrics_interval": 0}, "metrics_interval: 0 must be a number above 0"),
    ],
)
def test_the_collector_refuses_bad_metrics_settings(settings, message):
    config = dict({"log_dir": "/var/log/x", "state_dir": "/var/lib/x", "devices": []}, **settings)
    with pytest.raises(log_collector.ConfigError) as refused:
        log_collector.check_config(config)
    assert message in refused.value.problems


@pytest.fixture()
def library(monkeypatch):
    for module in (snapshot_store, mail_queue):
        monkeypatch.setattr(module, "PYTHON_LIBRARY", LIBRARY)


def _upload(root, address, name, size):
    directory = root / "incoming" / address
    directory.mkdir(parents=True, exist_ok=True)
    (root / "store" / address).mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(b"x" * size)


def test_the_snapshot_store_counts_stored_and_refused_uploads(tmp_path, library):
    names = {"198.51.100.10": "lobby-cpu", "198.51.100.11": "garage-cpu"}
    (tmp_path / "store" / "198.51.100.11").mkdir(parents=True)
    old = tmp_path / "store" / "198.51.100.11" / "old.jpg"
    old.write_bytes(b"y" * 1000)
    os.utime(old, (1796600000, 1796600000))
    stats = snapshot_store.SnapshotStats(names.items())
    stats.scan(str(tmp_path / "store"))
    _upload(tmp_path, "198.51.100.10", "a.jpg", 700)
    _upload(tmp_path, "198.51.100.10", "b.jpg", 0)
    store = snapshot_store.Store(str(tmp_path / "incoming"), str(tmp_path / "store"), stats)
    store.sweep()
    (tmp_path / "metrics").mkdir()
    snapshot_store.write_metrics(str(tmp_path / "metrics"), stats)
    text = (tmp_path / "metrics" / "mpcpu_snapshots.prom").read_text()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    lobby = 'address="198.51.100.10",mpcpu="lobby-cpu"'
    garage = 'address="198.51.100.11",mpcpu="garage-cpu"'
    stored_at = (tmp_path / "store" / "198.51.100.10" / "a.jpg").stat().st_mtime
    assert samples == [
        "mpcpu_snapshots_stored_total{%s} 1" % lobby,
        "mpcpu_snapshots_stored_total{%s} 0" % garage,
        "mpcpu_snapshot_last_stored_timestamp_seconds{%s} %s"
        % (lobby, prom_textfile.format_value(stored_at)),
        "mpcpu_snapshot_last_stored_timestamp_seconds{%s} 1796600000" % garage,
        "mpcpu_snapshot_last_bytes{%s} 700" % lobby,
        "mpcpu_snapshot_last_bytes{%s} 1000" % garage,
        'mpcpu_snapshot_uploads_refused_total{%s,reason="empty"} 1' % lobby,
        'mpcpu_snapshot_uploads_refused_total{%s,reason="aborted"} 0' % lobby,
        'mpcpu_snapshot_uploads_refused_total{%s,reason="empty"} 0' % garage,
        'mpcpu_snapshot_uploads_refused_total{%s,reason="aborted"} 0' % garage,
    ]


POSTQUEUE_J = [
    {"queue_name": "deferred", "queue_id": "4F2A1", "arrival_time": 1000, "message_size": 900},
    {"queue_name": "deferred", "queue_id": "4F2A2", "arrival_time": 1600, "message_size": 900},
    {"queue_name": "active", "queue_id": "4F2A3", "arrival_time": 1990, "message_size": 900},
]


def test_the_mail_queue_is_counted_per_queue_with_the_oldest_age():
    lines = [json.dumps(message) for message in POSTQUEUE_J] + [""]
    summary = mail_queue.queue_summary(lines, now=2000.0)
    assert summary["deferred"] == (2, 1000.0)
    assert summary["active"] == (1, 10.0)
    assert summary["hold"] == (0, 0.0) and summary["incoming"] == (0, 0.0)


def _fake_postqueue(tmp_path, script):
    program = tmp_path / "postqueue"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return str(program)


def test_the_mail_queue_check_writes_its_file(tmp_path, library):
    listing = "\n".join(json.dumps(message) for message in POSTQUEUE_J)
    program = _fake_postqueue(tmp_path, "cat <<'EOF'\n%s\nEOF\n" % listing)
    assert mail_queue.main(["--textfile-dir", str(tmp_path), "--postqueue", program]) == 0
    text = (tmp_path / "mpcpu_mail_queue.prom").read_text()
    assert 'mpcpu_mail_queue_messages{queue="deferred"} 2' in text
    assert 'mpcpu_mail_queue_messages{queue="maildrop"} 0' in text
    assert "mpcpu_mail_queue_check_success 1" in text


def test_a_failing_postqueue_is_reported_not_hidden(tmp_path, library):
    program = _fake_postqueue(
        tmp_path, "echo 'postqueue: fatal: Queue report unavailable' >&2\nexit 75\n"
    )
    assert mail_queue.main(["--textfile-dir", str(tmp_path), "--postqueue", program]) == 1
    text = (tmp_path / "mpcpu_mail_queue.prom").read_text()
    assert "mpcpu_mail_queue_check_success 0" in text
    assert "mpcpu_mail_queue_messages{" not in text
