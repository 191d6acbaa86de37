"""The collector against two simulated MPCPUs over the lab network, through a restart of the
collector and a connection the device's host cuts with TCP resets.

The reference is the devices themselves: after the faults, a probe on the device host asks
each device for its whole log (``LOG 1``); the collector's file must hold exactly those
lines, byte for byte, seq 1..N with no gap and no duplicate.
"""

import base64
import json
import re
import time

import pytest
import testinfra

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

DEVICES = {"mpcpu-a": "198.51.100.162", "mpcpu-b": "198.51.100.163"}  # lab.yml, inventory
COLLECTOR = "198.51.100.161"
PORT = appendix_d.row("activity_logging").mpcpu_port
LOG_DIR = "/var/log/mpcpu-activity"
RATE = 40  # lines per second and device
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
SIMULATOR = [
    "systemd-run",
    "--unit=mpcpu-sim",
    "--setenv=PYTHONPATH=/opt/megapower/lab:/opt/megapower/collections",
    "/usr/bin/python3",
    "-m",
    "mpcpu_sim",
    "serve",
    "--set=log_rate=%d" % RATE,
    "--status-file=/run/mpcpu-sim.json",
] + ["--address=%s=%s" % item for item in sorted(DEVICES.items())]
CUT_CONNECTIONS = (
    "table inet cut { chain input { type filter hook input priority 0; "
    "tcp dport %d reject with tcp reset; }; }" % PORT
)
# Reads a device's whole log (LOG 1) for a moment; writes the complete lines to a file.
REFERENCE_PROBE = r"""
import socket, sys, time
ip, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data, end = b"", time.monotonic() + 2.0
with socket.create_connection((ip, port), timeout=5) as conn:
    conn.sendall(b"LOG 1\r\n")
    conn.settimeout(0.2)
    while time.monotonic() < end:
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
with open(out, "wb") as handle:
    handle.write(data[: data.rfind(b"\n") + 1])
"""


def wait_until(predicate, timeout, what, explain=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    pytest.fail("waited %d s for %s\n%s" % (timeout, what, explain()))


@pytest.fixture(scope="module")
def collector(request):
    inventory = request.config.option.ansible_inventory
    return testinfra.get_host("ansible://collector?ansible_inventory=%s" % inventory)


@pytest.fixture(scope="module")
def log_file_of(collector):
    month_year = collector.check_output("LC_ALL=C date +%B_%Y")
    return lambda ip: "%s/ADUltraCPU_%s_%s.log" % (LOG_DIR, ip, month_year)


def written_seqs(collector, path):
    result = collector.run("cut -d' ' -f1 %s", path)
    return [int(field) for field in result.stdout.split()] if result.rc == 0 else []


def wait_for_growth(collector, log_file_of, lines, what):
    targets = {ip: len(written_seqs(collector, log_file_of(ip))) + lines for ip in DEVICES.values()}
    wait_until(
        lambda: all(
            len(written_seqs(collector, log_file_of(ip))) >= target
            for ip, target in targets.items()
        ),
        30,
        what,
    )


@pytest.fixture(scope="module")
def streamed(host, collector, log_file_of):
    """Stream, restart the collector, cut the connections, stream on; then take references."""
    host.check_output(" ".join(SIMULATOR))
    try:
        wait_for_growth(collector, log_file_of, RATE, "the first lines")
        collector.check_output("systemctl restart mpcpu-log-collector")
        wait_for_growth(collector, log_file_of, RATE, "lines after the collector's restart")
        host.check_output("echo %s | nft -f -", CUT_CONNECTIONS)
        time.sleep(3)  # the collector's reconnects are reset too, and it backs off
        host.check_output("nft delete table inet cut")
        wait_for_growth(collector, log_file_of, RATE, "lines after the connections were cut")
        references = {}
        for ip in DEVICES.values():
            reference = "/tmp/reference-%s.log" % ip
            host.check_output("python3 -c %s %s %s %s", REFERENCE_PROBE, ip, str(PORT), reference)
            count = int(host.check_output("wc -l < %s", reference))
            digest = host.check_output("sha256sum < %s", reference).split()[0]
            references[ip] = (count, digest)
        for ip, (count, _digest) in references.items():
            wait_until(
                lambda ip=ip, count=count: len(written_seqs(collector, log_file_of(ip))) >= count,
                30,
                "the collector to catch up with %s" % ip,
            )
        yield references
    finally:
        host.run("nft delete table inet cut")
        host.run("systemctl stop mpcpu-sim")


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_every_line_once_and_in_order_across_a_restart_and_a_cut_connection(
    collector, log_file_of, streamed, name
):
    ip = DEVICES[name]
    seqs = written_seqs(collector, log_file_of(ip))
    count, digest = streamed[ip]
    assert count >= 3 * RATE
    assert seqs == list(range(1, len(seqs) + 1)), "gap or duplicate in %s" % log_file_of(ip)
    assert len(seqs) >= count
    head = collector.check_output("head -n %s %s | sha256sum", str(count), log_file_of(ip))
    assert head.split()[0] == digest, "the file differs from the device's own log"
    assert ("%s ALARM" % name) in collector.check_output("grep -m1 ALARM %s", log_file_of(ip))


def test_file_names_follow_the_vendor_pattern(collector, log_file_of, streamed):
    names = set(collector.check_output("ls %s", LOG_DIR).split())
    assert names == {log_file_of(ip).rsplit("/", 1)[1] for ip in DEVICES.values()}
    pattern = re.compile(r"^ADUltraCPU_198\.51\.100\.16[23]_(%s)_\d{4}\.log$" % "|".join(MONTHS))
    assert all(pattern.match(name) for name in names), names


def test_the_collector_resumed_where_it_stopped_instead_of_starting_over(host, streamed):
    invocation = host.check_output("systemctl show -p InvocationID --value mpcpu-sim")
    journal = host.check_output(
        "journalctl -o cat --no-pager _SYSTEMD_INVOCATION_ID=%s", invocation
    )
    for name in DEVICES:
        starts = [
            int(line.rsplit(" ", 1)[1])
            for line in journal.splitlines()
            if "%s: collector ('%s'" % (name, COLLECTOR) in line and "streams from line" in line
        ]
        assert len(starts) >= 3, journal  # first connection, after the restart, after the cut
        assert starts[0] == 1 and all(start > 1 for start in starts[1:]), starts


def test_the_collector_runs_sandboxed_under_its_own_account(collector, log_file_of, streamed):
    unit = collector.check_output(
        "systemctl show mpcpu-log-collector -p User,ProtectSystem,NoNewPrivileges,"
        "PrivateTmp,RestrictAddressFamilies,ActiveState"
    )
    settings = dict(line.split("=", 1) for line in unit.splitlines())
    assert settings["User"] == "mpcpu-log"
    assert settings["ProtectSystem"] == "strict"
    assert settings["NoNewPrivileges"] == "yes" and settings["PrivateTmp"] == "yes"
    assert set(settings["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert settings["ActiveState"] == "active"
    log_file = collector.file(log_file_of(DEVICES["mpcpu-a"]))
    assert log_file.user == "mpcpu-log" and log_file.mode == 0o640


def test_the_configuration_came_from_the_site_model(collector):
    config = json.loads(collector.check_output("cat /etc/mpcpu-log-collector/config.json"))
    assert {(d["name"], d["ip"], d["port"], d["source"]) for d in config["devices"]} == {
        (name, ip, PORT, COLLECTOR) for name, ip in DEVICES.items()
    }


# --- the journal, and rsyslog forwarding to a syslog collector -------------------------------

SYSLOG_COLLECTOR = "198.51.100.164"  # lab.yml, group_vars: log_collector_syslog_host
SYSLOG_PORT = 10514
RECEIVED = "/var/log/siem/activity.log"
# A syslog collector as a site runs one: rsyslog taking RFC 5424 over TCP with TLS only (RFC
# 5425; its certificate from the prepare step's lab CA), each message as it came off the wire.
# A sender without TLS gets no record in.
RECEIVER_CONF = """
global(DefaultNetstreamDriverCAFile="/etc/siem-tls/ca.pem"
       DefaultNetstreamDriverCertFile="/etc/siem-tls/siem.pem"
       DefaultNetstreamDriverKeyFile="/etc/siem-tls/siem.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="as_received" type="string" string="%%rawmsg%%\\n")
ruleset(name="siem") { action(type="omfile" file="%s" template="as_received") }
input(type="imtcp" address="%s" port="%d" ruleset="siem")
""" % (RECEIVED, SYSLOG_COLLECTOR, SYSLOG_PORT)
RFC5424_RECORD = re.compile(
    r"^<(?P<pri>\d+)>1 (?P<stamp>\S+) (?P<host>\S+) mpcpu-activity (?P<pid>\S+) activity "
    r'\[mpcpu@32473 name="(?P<name>[^"]*)" address="(?P<address>[^"]*)" seq="(?P<seq>\d+)" '
    r'time="(?P<time>[^"]*)"\] (?P<message>.*)$'
)
SYSLOG_OUTAGE = (
    "table inet outage { chain input { type filter hook input priority 0; "
    "tcp dport %d drop; }; }" % SYSLOG_PORT
)
JOURNAL_FIELDS = ("MPCPU_NAME", "MPCPU_ADDRESS", "MPCPU_SEQ", "MPCPU_RECORD_TIME", "MESSAGE")


@pytest.fixture(scope="module")
def receiver(host):
    host.check_output("mkdir -p /var/log/siem /etc/rsyslog.d")
    encoded = base64.b64encode(RECEIVER_CONF.encode()).decode()
    host.check_output("echo %s | base64 -d > /etc/rsyslog.d/90-siem.conf", encoded)
    host.check_output("rsyslogd -N1 && systemctl enable rsyslog && systemctl restart rsyslog")
    yield
    host.run("systemctl disable --now rsyslog; rm -f /etc/rsyslog.d/90-siem.conf")


def received_records(host):
    records = {}
    for line in host.run("cat %s", RECEIVED).stdout.splitlines():
        match = RFC5424_RECORD.match(line)
        assert match, "not the collector's RFC 5424 form: %r" % line
        records.setdefault(match.group("address"), []).append(match)
    return records


def file_lines(collector, path):
    return collector.check_output("cat %s", path).splitlines()


@pytest.fixture(scope="module")
def forwarded(host, collector, log_file_of, streamed, receiver):
    """Records flowing; the syslog collector unreachable for a while (its host drops every
    packet to the port, as a cut WAN link does; the collector's rsyslog restarted meanwhile,
    its queue saved to disk), reachable again; then the simulator stops and every record the
    files hold must arrive. (Its daemon stopping mid-stream is TCP syslog's own loss; see the
    role's README.)"""
    wait_until(lambda: len(received_records(host)) == len(DEVICES), 60, "the first records")
    host.check_output("echo %s | nft -f -", SYSLOG_OUTAGE)
    try:
        outage_start = {
            ip: len(written_seqs(collector, log_file_of(ip))) for ip in DEVICES.values()
        }
        time.sleep(2)
        collector.check_output("systemctl restart rsyslog")
        time.sleep(2)
    finally:
        host.run("nft delete table inet outage")
    host.check_output("systemctl stop mpcpu-sim")
    time.sleep(1)
    final = {ip: file_lines(collector, log_file_of(ip)) for ip in DEVICES.values()}
    wait_until(
        lambda: not missing_at_syslog_collector(host, final),
        120,
        "every record at the syslog collector",
        lambda: forwarding_state(host, collector, outage_start, final),
    )
    return outage_start, final


def missing_at_syslog_collector(host, final):
    """Per device, the sequence numbers written to its file that the syslog collector lacks
    (a record sent twice counts once)."""
    received = received_records(host)
    missing = {}
    for ip, lines in final.items():
        lacking = {int(line.split(" ", 1)[0]) for line in lines} - {
            int(record.group("seq")) for record in received.get(ip, ())
        }
        if lacking:
            missing[ip] = sorted(lacking)
    return missing


def forwarding_state(host, collector, outage_start, final):
    """What a failed wait reports: per device the records missing at the syslog collector, and
    the forwarding side's rsyslog as it saw the outage."""
    missing = missing_at_syslog_collector(host, final)
    report = [
        "%s: %d written (%d when the outage began), missing %s"
        % (ip, len(lines), outage_start[ip], missing.get(ip, [])[:40])
        for ip, lines in final.items()
    ]
    for command in (
        "journalctl -u rsyslog --no-pager -n 40 -o short-precise",
        "ls -la /var/spool/rsyslog /var/lib/rsyslog",
    ):
        report.append("collector: %s\n%s" % (command, collector.run(command).stdout))
    report.append("receiver: %s" % host.run("journalctl -u rsyslog --no-pager -n 20").stdout)
    return "\n".join(report)


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_every_record_reaches_the_syslog_collector_across_its_outage(host, forwarded, name):
    ip = DEVICES[name]
    outage_start, final = forwarded
    records = received_records(host)[ip]
    by_seq = dict((int(record.group("seq")), record) for record in records)
    written = dict((int(line.split(" ", 1)[0]), line) for line in final[ip])
    assert len(written) > outage_start[ip] + RATE, "no records were written during the outage"
    assert sorted(set(written) - set(by_seq)) == [], "records lost on the way"
    for seq, line in written.items():
        record = by_seq[seq]
        assert record.group("message") == line
        assert (record.group("name"), record.group("address")) == (name, ip)
        assert record.group("time") == line.split(" ")[1]
    assert int(records[0].group("pri")) % 8 == 6  # informational


def test_each_record_is_one_journal_entry_with_structured_fields(collector, forwarded):
    entries = collector.check_output(
        "journalctl -o json --no-pager _SYSTEMD_UNIT=mpcpu-log-collector.service "
        "SYSLOG_IDENTIFIER=mpcpu-activity --output-fields=%s",
        ",".join(JOURNAL_FIELDS),
    )
    journaled = {}
    for entry in map(json.loads, entries.splitlines()):
        journaled.setdefault(entry["MPCPU_ADDRESS"], {})[int(entry["MPCPU_SEQ"])] = entry
    _outage_start, final = forwarded
    for name, ip in DEVICES.items():
        lines = dict((int(line.split(" ", 1)[0]), line) for line in final[ip])
        assert set(journaled[ip]) >= set(lines)
        for seq, line in lines.items():
            entry = journaled[ip][seq]
            assert entry["MESSAGE"] == line and entry["MPCPU_NAME"] == name
            assert entry["MPCPU_RECORD_TIME"] == line.split(" ")[1]
