"""mpcpu_status logic: replies collected within a timeout and the activity-log port, on loopback."""

import contextlib
import socket
import threading
import time

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d, mpcpu_status
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

LOOPBACK = "127.0.0.1"


class EasyCpu:
    """A UDP status port that answers each request with ``count`` datagrams, ``gap`` apart."""

    def __init__(self, count, gap=0.0, stray=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.thread = threading.Thread(target=self._serve, args=(count, gap, stray), daemon=True)
        self.thread.start()

    def _serve(self, count, gap, stray):
        try:
            data, peer = self.sock.recvfrom(2048)
        except OSError:
            return
        self.requests.append(data)
        if stray:  # the same text from another port must not count
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                other.sendto(b"MPCPU stray\r\n", peer)
        for index in range(1, count + 1):
            time.sleep(gap)
            self.sock.sendto(
                b"MPCPU sim %s STATUS %d/%d\r\n" % (LOOPBACK.encode(), index, count), peer
            )

    def close(self):
        self.sock.close()
        self.thread.join(5)


class LogPort:
    """A TCP activity-log port that sends ``line`` after reading the optional request."""

    def __init__(self, line=b"1 2026-11-24T12:00:00 sim boot\r\n", wait_for_request=False):
        self.sock = socket.create_server((LOOPBACK, 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(
            target=self._serve, args=(line, wait_for_request), daemon=True
        )
        self.thread.start()

    def _serve(self, line, wait_for_request):
        try:
            conn, _peer = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            if wait_for_request:
                self.received = conn.recv(100)
            if line:
                conn.sendall(line)
            with contextlib.suppress(OSError):
                conn.recv(100)  # until the probe hangs up

    def close(self):
        self.sock.close()
        self.thread.join(5)


def closed_tcp_port():
    with socket.create_server((LOOPBACK, 0)) as sock:
        return sock.getsockname()[1]


@pytest.fixture
def servers():
    started = []

    def start(server):
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def params(**overrides):
    base = {
        "host": LOOPBACK,
        "easy_cpu_port": None,
        "payload": mpcpu_status.DEFAULT_PAYLOAD,
        "expect_replies": 1,
        "timeout": 2.0,
        "settle_time": 0.3,
        "check_activity_log": True,
        "activity_log_port": None,
        "activity_log_request": None,
        "activity_log_read_line": False,
    }
    base.update(overrides)
    return base


def test_default_ports_come_from_appendix_d():
    clean = mpcpu_status.check_params(params())
    assert clean["easy_cpu_port"] == appendix_d.row("easy_cpu").mpcpu_port
    assert clean["activity_log_port"] == appendix_d.row("activity_logging").mpcpu_port
    assert clean["payload"] == b"STATUS\r\n"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"host": "198.51.100.300"}, r"^host: '198.51.100.300' is not an IPv4 or IPv6 address$"),
        ({"easy_cpu_port": 0}, r"^easy_cpu_port: 0 is not a port number"),
        ({"activity_log_port": 99999}, r"^activity_log_port: 99999 is not a port number"),
        ({"payload": ""}, r"^payload: must not be empty$"),
        ({"expect_replies": -1}, r"^expect_replies: -1 must be at least 0$"),
        ({"timeout": 0}, r"^timeout: 0 must be greater than 0$"),
        ({"settle_time": -0.1}, r"^settle_time: -0.1 must be greater than 0$"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(overrides, message):
    with pytest.raises(MpcpuError, match=message):
        mpcpu_status.check_params(params(**overrides))


def test_every_reply_of_one_request_is_collected(servers):
    easy_cpu = servers(EasyCpu(count=3, gap=0.05))
    log = servers(LogPort())
    result = mpcpu_status.run(params(easy_cpu_port=easy_cpu.port, activity_log_port=log.port))
    assert easy_cpu.requests == [b"STATUS\r\n"]
    assert result["replies"] == ["MPCPU sim 127.0.0.1 STATUS %d/3" % index for index in (1, 2, 3)]
    assert result["reply_count"] == 3
    assert result["changed"] is False
    assert result["activity_log"] == {
        "checked": True,
        "port": log.port,
        "reachable": True,
        "first_line": None,
        "error": None,
    }


def test_collection_stops_after_a_quiet_gap_not_at_the_timeout(servers):
    easy_cpu = servers(EasyCpu(count=1))
    started = time.monotonic()
    replies, problem = mpcpu_status.collect_replies(
        LOOPBACK, easy_cpu.port, b"S", expect=1, timeout=30.0, settle_time=0.2
    )
    assert (replies, problem) == (["MPCPU sim 127.0.0.1 STATUS 1/1"], None)
    assert time.monotonic() - started < 10


def test_replies_from_another_port_do_not_count(servers):
    easy_cpu = servers(EasyCpu(count=1, stray=True))
    replies, _problem = mpcpu_status.collect_replies(
        LOOPBACK, easy_cpu.port, b"S", expect=1, timeout=2.0, settle_time=0.2
    )
    assert replies == ["MPCPU sim 127.0.0.1 STATUS 1/1"]


def test_too_few_replies_fail_naming_expect_replies(servers):
    easy_cpu = servers(EasyCpu(count=1))
    with pytest.raises(MpcpuError) as error:
        mpcpu_status.run(params(easy_cpu_port=easy_cpu.port, expect_replies=2, timeout=0.5))
    assert str(error.value) == (
        "expect_replies: 1 of 2 replies from UDP 127.0.0.1 port %d within 0.5 s" % easy_cpu.port
    )
    assert error.value.result["replies"] == ["MPCPU sim 127.0.0.1 STATUS 1/1"]


def test_closed_status_port_fails_with_the_reason():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
    with pytest.raises(MpcpuError, match=r"^expect_replies: 0 of 1 .* \(Connection refused\)$"):
        mpcpu_status.run(params(easy_cpu_port=port, timeout=1.0))


def test_closed_activity_log_port_fails_naming_activity_log_port(servers):
    easy_cpu = servers(EasyCpu(count=1))
    port = closed_tcp_port()
    with pytest.raises(MpcpuError) as error:
        mpcpu_status.run(params(easy_cpu_port=easy_cpu.port, activity_log_port=port))
    assert str(error.value) == (
        "activity_log_port: TCP 127.0.0.1 port %d is not reachable: Connection refused" % port
    )
    assert error.value.result["activity_log"]["reachable"] is False


def test_activity_log_check_can_be_skipped(servers):
    easy_cpu = servers(EasyCpu(count=1))
    result = mpcpu_status.run(
        params(
            easy_cpu_port=easy_cpu.port,
            activity_log_port=closed_tcp_port(),
            check_activity_log=False,
        )
    )
    assert result["activity_log"] == {"checked": False, "port": result["activity_log"]["port"]}


def test_first_log_line_is_read_after_the_request(servers):
    log = servers(LogPort(wait_for_request=True))
    outcome = mpcpu_status.probe_activity_log(LOOPBACK, log.port, 2.0, b"LOG 1\r\n", read_line=True)
    assert outcome["first_line"] == "1 2026-11-24T12:00:00 sim boot"
    assert log.received == b"LOG 1\r\n"


def test_silent_activity_log_fails_naming_activity_log_read_line(servers):
    easy_cpu = servers(EasyCpu(count=1))
    log = servers(LogPort(line=b""))
    with pytest.raises(
        MpcpuError, match=r"^activity_log_read_line: no log line from TCP 127.0.0.1"
    ):
        mpcpu_status.run(
            params(
                easy_cpu_port=easy_cpu.port,
                activity_log_port=log.port,
                activity_log_read_line=True,
                timeout=0.5,
            )
        )


def test_the_sites_activity_log_request_asks_from_the_first_line():
    assert mpcpu_status.activity_log_request("GET LOG FROM {seq}\r\n") == b"GET LOG FROM 1\r\n"
    assert mpcpu_status.activity_log_request("LOG {seq}\r\n", 41) == b"LOG 41\r\n"
    assert mpcpu_status.activity_log_request("HELLO\r\n") == b"HELLO\r\n"
