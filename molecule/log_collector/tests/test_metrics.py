"""Service health as Prometheus sees it: a real Prometheus server (Debian's, from the lab
image) scrapes node_exporter on the collector, whose textfile collector reads the file the log
collector writes; the collection's alert rules are loaded with short ``for:`` times.

Each MPCPU is played by a simulator of its own, so stopping one stops exactly that MPCPU's log
stream: its series goes to 0, the alert fires, and starting it again clears it.
"""

import json
import pathlib
import re
import time
import urllib.parse

import pytest
import testinfra

DEVICES = {"mpcpu-a": "198.51.100.162", "mpcpu-b": "198.51.100.163"}  # lab.yml, inventory
COLLECTOR = "198.51.100.161"
RULES = (
    pathlib.Path(__file__).resolve().parents[3]
    / "roles"
    / "metrics"
    / "files"
    / "prometheus"
    / "mpcpu-alerts.rules.yml"
)
WORK = "/var/tmp/mpcpu-prometheus-test"
# Shipped: for: 5m. Here: 10 s, evaluated every 2 s, scraped every 2 s (the collector writes
# its file every 2 s in this scenario), so the test takes seconds, not minutes.
FOR_SECONDS = 10
PROMETHEUS_CONFIG = """
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: [%s/mpcpu-alerts.rules.yml]
scrape_configs:
  - job_name: node
    static_configs: [{targets: ["%s:9100"]}]
""" % (WORK, COLLECTOR)
READY = (
    "python3 -c 'import urllib.request as request; "
    'request.urlopen("http://127.0.0.1:9090/-/ready", timeout=5)\''
)
QUERY = r"""
import json, sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:9090/api/v1/" + sys.argv[1], timeout=5) as answer:
    print(json.dumps(json.load(answer)["data"]))
"""


def simulator(name, rate=5):
    return [
        "systemd-run",
        "--unit=mpcpu-sim-%s" % name,
        "--setenv=PYTHONPATH=/opt/megapower/lab:/opt/megapower/collections",
        "/usr/bin/python3",
        "-m",
        "mpcpu_sim",
        "serve",
        "--set=log_rate=%d" % rate,
        "--address=%s=%s" % (name, DEVICES[name]),
    ]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail("waited %d s for %s" % (timeout, what))


@pytest.fixture(scope="module")
def collector(request):
    inventory = request.config.option.ansible_inventory
    return testinfra.get_host("ansible://collector?ansible_inventory=%s" % inventory)


@pytest.fixture(scope="module")
def prometheus(host, collector, tmp_path_factory):
    """Both simulators and a Prometheus server on the collector, all gone afterwards."""
    rules = re.sub(r"for: \d+m", "for: %ds" % FOR_SECONDS, RULES.read_text())
    local = tmp_path_factory.mktemp("prometheus")
    (local / "mpcpu-alerts.rules.yml").write_text(rules)
    (local / "prometheus.yml").write_text(PROMETHEUS_CONFIG)
    collector.check_output("mkdir -p %s/data", WORK)
    for name in ("mpcpu-alerts.rules.yml", "prometheus.yml"):
        collector.ansible("copy", "src=%s dest=%s/%s" % (local / name, WORK, name), check=False)
    # A simulator numbers its lines from 1 and holds the stream until the line asked for
    # exists: the collector starts afresh, or it would wait for the count it reached before.
    collector.check_output("systemctl stop mpcpu-log-collector")
    collector.check_output("rm -f /var/lib/mpcpu-log-collector/*.seq /var/log/mpcpu-activity/*")
    collector.check_output("systemctl start mpcpu-log-collector")
    try:
        for name in DEVICES:
            host.check_output(" ".join(simulator(name)))
        collector.check_output(
            "systemd-run --unit=mpcpu-prometheus /usr/bin/prometheus "
            "--config.file=%s/prometheus.yml --storage.tsdb.path=%s/data "
            "--web.listen-address=127.0.0.1:9090",
            WORK,
            WORK,
        )
        # Prometheus answers 503 until its storage is open: slower on a busy machine.
        wait_until(lambda: collector.run(READY).rc == 0, 120, "Prometheus ready")
        yield lambda api, **params: json.loads(
            collector.check_output(
                "python3 -c %s %s", QUERY, api + "?" + urllib.parse.urlencode(params)
            )
        )
    finally:
        collector.run("systemctl stop mpcpu-prometheus")
        collector.run("rm -rf %s", WORK)
        for name in DEVICES:
            host.run("systemctl stop mpcpu-sim-%s", name)


def series(prometheus, expression):
    """{mpcpu: value} of an instant query whose series carry the label mpcpu."""
    result = prometheus("query", query=expression)["result"]
    return dict((item["metric"]["mpcpu"], float(item["value"][1])) for item in result)


def firing(prometheus):
    alerts = prometheus("alerts")["alerts"]
    return sorted(
        alert["labels"]["mpcpu"]
        for alert in alerts
        if alert["labels"]["alertname"] == "MpcpuActivityStreamDown" and alert["state"] == "firing"
    )


def all_streaming(prometheus):
    up = series(prometheus, "mpcpu_activity_stream_up")
    growing = series(prometheus, "increase(mpcpu_activity_records_total[10s])")
    return (
        up == dict.fromkeys(DEVICES, 1.0)
        and sorted(growing) == sorted(DEVICES)
        and all(value > 0 for value in growing.values())
    )


def test_prometheus_sees_every_mpcpu_streaming_then_one_stopped_and_cleared(
    host, collector, prometheus
):
    wait_until(lambda: all_streaming(prometheus), 90, "every MPCPU streaming in Prometheus")
    rules = prometheus("rules")["groups"][0]["rules"]
    assert {rule["name"] for rule in rules} >= {"MpcpuActivityStreamDown", "MpcpuMetricsStale"}
    assert all(rule["health"] == "ok" for rule in rules), rules
    errors = prometheus("query", query="node_textfile_scrape_error")["result"]
    assert [item["value"][1] for item in errors] == ["0"]
    before = series(prometheus, "mpcpu_activity_reconnections_total")["mpcpu-a"]

    host.check_output("systemctl stop mpcpu-sim-mpcpu-a")
    stopped = time.monotonic()
    wait_until(
        lambda: series(prometheus, "mpcpu_activity_stream_up") == {"mpcpu-a": 0.0, "mpcpu-b": 1.0},
        30,
        "mpcpu-a's stream series at 0 and mpcpu-b's at 1",
    )
    assert wait_until(lambda: firing(prometheus), 60, "MpcpuActivityStreamDown") == ["mpcpu-a"]
    fired_after = time.monotonic() - stopped
    assert fired_after >= FOR_SECONDS  # pending for the whole for: first
    growth = series(prometheus, "increase(mpcpu_activity_records_total[6s])")
    assert growth["mpcpu-a"] == 0 and growth["mpcpu-b"] > 0

    # The new simulator counts from 1 again; at 20 lines a second it soon passes the line
    # the collector asks for, and the stream flows again.
    host.check_output(" ".join(simulator("mpcpu-a", rate=20)))
    wait_until(
        lambda: series(prometheus, "mpcpu_activity_stream_up") == dict.fromkeys(DEVICES, 1.0),
        30,
        "mpcpu-a connected again",
    )
    wait_until(lambda: not firing(prometheus), 30, "the alert to clear")
    wait_until(lambda: all_streaming(prometheus), 120, "mpcpu-a's records flowing again")
    after = series(prometheus, "mpcpu_activity_reconnections_total")["mpcpu-a"]
    assert after > before
    print("alert fired %.1f s after the stream stopped (for: %d s)" % (fired_after, FOR_SECONDS))


def test_the_metrics_file_is_node_exporters_to_read_and_the_collectors_to_write(collector):
    directory = collector.file("/var/lib/prometheus/node-exporter")
    assert directory.group == "mpcpu-metrics" and directory.mode == 0o1775
    metrics = collector.file("/var/lib/prometheus/node-exporter/mpcpu_activity_log.prom")
    assert metrics.user == "mpcpu-log" and metrics.mode == 0o644
    assert 'mpcpu_activity_stream_up{address="198.51.100.162",mpcpu="mpcpu-a"}' in (
        metrics.content_string
    )
    exporter_args = collector.check_output("systemctl show -p ExecStart prometheus-node-exporter")
    assert "prometheus-node-exporter" in exporter_args
    assert collector.service("prometheus-node-exporter").is_running
