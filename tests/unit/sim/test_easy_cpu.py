"""EASY CPU status (row easy_cpu): each request gets one or more replies."""

import io
import re
import socket

import pytest

REPLY = re.compile(rb"^MPCPU (\S+) (\S+) STATUS (\d+)/(\d+) uptime=(\d+) version=(\S+)\r\n$")


def ask(simulator, name, payload=b"STATUS\r\n", expected=3, timeout=3.0):
    """Send one request; every reply that arrives within ``timeout`` of the last one."""
    device = (simulator.address(name), simulator.port(name, "easy_cpu"))
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, device)
        try:
            while len(replies) < expected + 2:
                data, source = sock.recvfrom(2048)
                assert source == device
                replies.append(data)
                sock.settimeout(0.3)  # after the first reply, the rest come at once
        except TimeoutError:
            pass
    return replies


@pytest.fixture
def simulator(start_simulator):
    return start_simulator("--address", "cpu001=127.0.6.1")


@pytest.mark.parametrize("payload", [b"STATUS\r\n", b"", b"\x00\xffunknown"])
def test_every_request_gets_three_numbered_replies(simulator, payload):
    replies = ask(simulator, "cpu001", payload)
    fields = [REPLY.match(reply).groups() for reply in replies]
    assert [(name, ip, index, total) for name, ip, index, total, _uptime, _version in fields] == [
        (b"cpu001", b"127.0.6.1", str(index).encode(), b"3") for index in (1, 2, 3)
    ]
    assert {version for *_before, version in fields} == {b"4.0"}


def test_reply_count_is_a_setting(start_simulator):
    simulator = start_simulator("--address", "cpu001=127.0.6.2", "--set", "easy_cpu_replies=5")
    assert len(ask(simulator, "cpu001", expected=5)) == 5


def test_dropped_reply_fault_leaves_the_others(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.6.3", "--fault", "drop:service=easy_cpu:packet=reply:nth=2"
    )
    indexes = [REPLY.match(reply).group(3) for reply in ask(simulator, "cpu001")]
    assert indexes == [b"1", b"3"]


def test_replies_report_the_uploaded_firmware_version(simulator):
    client = simulator.tftp_client("cpu001")
    client.write("firmware.bin", io.BytesIO(b"MPCPU-FW 4.7\n" + bytes(1000)))
    versions = {REPLY.match(reply).group(6) for reply in ask(simulator, "cpu001")}
    assert versions == {b"4.7"}
