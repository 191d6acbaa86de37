"""The device as a client: snapshot upload, alarm e-mail, NTP and DHCP, against loopback peers."""

import email
import email.policy
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from mpcpu_sim.clients import jpeg
from mpcpu_sim.table import appendix_d
from tests.unit.sim.conftest import WRAPPER
from tests.unit.sim.peers import SmtpSink, SntpServer

HERE = os.path.dirname(os.path.abspath(__file__))


def run_client(*arguments):
    """(exit status, parsed JSON output or None, stderr) of one client subcommand."""
    argv = [WRAPPER, "--json", *arguments]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
    output = json.loads(done.stdout) if done.returncode == 0 else None
    return done.returncode, output, done.stderr


def free_udp_port(address):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@pytest.fixture
def atftpd(tmp_path):
    """atftpd (an independent TFTP server) on 127.0.7.1 with a writable directory."""
    root = tmp_path / "tftproot"
    root.mkdir()
    root.chmod(0o777)
    port = free_udp_port("127.0.7.1")
    argv = ["atftpd", "--daemon", "--no-fork", "--logfile", str(tmp_path / "atftpd.log")]
    argv += ["--user", "root.root", "--port", str(port), "--bind-address", "127.0.7.1", str(root)]
    process = subprocess.Popen(argv)
    try:
        time.sleep(0.3)
        assert process.poll() is None, "atftpd did not start"
        yield root, port
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.interop
def test_snapshot_uploads_a_jpeg_the_receiver_stores_unchanged(atftpd):
    root, port = atftpd
    status, result, stderr = run_client(
        "snapshot", "--source", "127.0.7.3", "--server", "127.0.7.1", "--port", str(port),
        "--camera", "7",
    )  # fmt: skip
    assert status == 0, stderr
    assert result["name"].startswith("cam07_") and result["name"].endswith(".jpg")
    stored = (root / result["name"]).read_bytes()
    assert (len(stored), hashlib.sha256(stored).hexdigest()) == (result["bytes"], result["sha256"])
    assert stored.startswith(b"\xff\xd8") and stored.endswith(b"\xff\xd9")


@pytest.mark.interop
def test_snapshot_sends_a_given_file(atftpd, tmp_path):
    root, port = atftpd
    picture = tmp_path / "given.jpg"
    picture.write_bytes(jpeg.make_jpeg(2, "given", 320, 240))
    status, result, stderr = run_client(
        "snapshot", "--source", "127.0.7.3", "--server", "127.0.7.1", "--port", str(port),
        "--jpeg", str(picture), "--blksize", "1428",
    )  # fmt: skip
    assert status == 0, stderr
    assert (root / result["name"]).read_bytes() == picture.read_bytes()
    assert result["options"]["blksize"] == 1428


def test_snapshot_refused_by_the_server_exits_non_zero(start_simulator):
    # The simulator's own TFTP server stores no snapshots: it answers "file not found".
    simulator = start_simulator("--address", "cpu001=127.0.7.8")
    port = simulator.port("cpu001", "time_firmware")
    status, _stdout, stderr = run_client(
        "snapshot", "--source", "127.0.7.3", "--server", "127.0.7.8", "--port", str(port)
    )
    assert status == 1
    assert "ERROR 1" in stderr and "cam01_" in stderr


def test_alarm_email_reaches_the_relay_from_the_device_address():
    with SmtpSink(("127.0.7.2", 0)) as sink:
        port = sink.server_address[1]
        status, result, stderr = run_client(
            "email", "--source", "127.0.7.4", "--relay", "127.0.7.2", "--port", str(port),
            "--name", "cpu007", "--alarm", "12", "--recipient", "guard@site.example",
        )  # fmt: skip
    assert status == 0, stderr
    assert result["reply"] == "250 2.0.0 Ok: queued as SINK1"
    ((peer, sender, recipients, body),) = sink.messages
    message = email.message_from_bytes(body, policy=email.policy.default)
    assert peer[0] == "127.0.7.4"
    assert (sender, recipients) == ("cpu007@mpcpu.example", ["guard@site.example"])
    assert message["Subject"] == "MPCPU cpu007 alarm 12"


def test_alarm_email_refused_recipient_exits_non_zero():
    with SmtpSink(("127.0.7.2", 0), refuse={"nobody@site.example"}) as sink:
        status, _stdout, stderr = run_client(
            "email", "--source", "127.0.7.4", "--relay", "127.0.7.2",
            "--port", str(sink.server_address[1]), "--recipient", "nobody@site.example",
        )  # fmt: skip
    assert status == 1
    assert "550" in stderr
    assert sink.messages == []


def test_ntp_query_leaves_from_port_123_and_reports_offset_and_stratum():
    with SntpServer(("127.0.7.5", 0), offset=100.0, stratum=2) as server:
        status, result, stderr = run_client(
            "ntp", "--source", "127.0.7.6", "--server", "127.0.7.5",
            "--port", str(server.address[1]),
        )  # fmt: skip
    assert status == 0, stderr
    assert server.clients == [("127.0.7.6", appendix_d.row("ntp").mpcpu_port)]
    assert abs(result["offset"] - 100.0) < 1.0
    assert (result["stratum"], result["refid"]) == (2, "203.0.113.10")


@pytest.mark.parametrize(
    ("server_options", "message"),
    [({"answer": False}, "no NTP reply"), ({"stratum": 0}, "kiss-o'-death")],
)
def test_ntp_without_a_usable_answer_exits_non_zero(server_options, message):
    with SntpServer(("127.0.7.5", 0), **server_options) as server:
        status, _stdout, stderr = run_client(
            "ntp", "--source", "127.0.7.6", "--server", "127.0.7.5",
            "--port", str(server.address[1]), "--timeout", "0.5",
        )  # fmt: skip
    assert status == 1
    assert message in stderr


def in_throwaway_namespace(*arguments):
    """Run netns_driver.py under ``unshare -n``; its JSON output."""
    argv = ["unshare", "-n", sys.executable, os.path.join(HERE, "netns_driver.py"), *arguments]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=180)
    return json.loads(done.stdout)


def test_dhcp_broadcasts_discover_and_request_and_reports_the_lease():
    outcome = in_throwaway_namespace("dhcp", "02:1b:2c:00:00:10")
    assert outcome["rc"] == 0, outcome["stderr"]
    lease = json.loads(outcome["stdout"])
    assert (lease["offered"], lease["acked"]) == ("198.51.100.50", "198.51.100.50")
    assert (lease["routers"], lease["ntp_servers"]) == (["198.51.100.1"], ["203.0.113.10"])
    client_port = appendix_d.row("ip_assignment").mpcpu_port
    assert [packet["type"] for packet in outcome["seen"]] == ["DISCOVER", "REQUEST"]
    for packet in outcome["seen"]:
        assert packet["source"] == ["0.0.0.0", client_port]
        assert packet["broadcast_flag"]
        assert packet["chaddr"] == "02:1b:2c:00:00:10"
    assert outcome["seen"][1]["requested"] == "198.51.100.50"


def test_dhcp_without_a_server_exits_non_zero():
    outcome = in_throwaway_namespace("dhcp", "02:1b:2c:00:00:11", "--no-server")
    assert outcome["rc"] == 1
    assert "no DHCPOFFER" in outcome["stderr"]
