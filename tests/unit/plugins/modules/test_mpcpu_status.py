"""megapower.mpcpu.mpcpu_status through AnsibleModule: never changed, fails on too few replies."""

import socket
import threading

import pytest

from ansible_collections.megapower.mpcpu.plugins.modules import mpcpu_status


@pytest.fixture
def status_port():
    """A loopback UDP port answering each request twice."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    def serve():
        try:
            _data, peer = sock.recvfrom(100)
        except OSError:
            return
        sock.sendto(b"MPCPU a 127.0.0.1 STATUS 1/2\r\n", peer)
        sock.sendto(b"MPCPU a 127.0.0.1 STATUS 2/2\r\n", peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    sock.close()
    thread.join(5)


def test_replies_are_returned_and_nothing_changes(runner, status_port):
    result = runner.succeeds(
        mpcpu_status,
        {
            "host": "127.0.0.1",
            "easy_cpu_port": status_port,
            "check_activity_log": False,
            "_ansible_check_mode": True,
        },
    )
    assert result["changed"] is False
    assert result["reply_count"] == 2
    assert result["replies"][1] == "MPCPU a 127.0.0.1 STATUS 2/2"


def test_too_few_replies_fail(runner, status_port):
    result = runner.fails(
        mpcpu_status,
        {
            "host": "127.0.0.1",
            "easy_cpu_port": status_port,
            "expect_replies": 3,
            "timeout": 0.5,
            "check_activity_log": False,
        },
    )
    assert result["msg"].startswith("expect_replies: 2 of 3 replies from UDP 127.0.0.1")
    assert result["reply_count"] == 2
    assert result["changed"] is False


def test_bad_port_fails_naming_it(runner):
    result = runner.fails(mpcpu_status, {"host": "127.0.0.1", "easy_cpu_port": 0})
    assert result["msg"] == "easy_cpu_port: 0 is not a port number from 1 to 65535"
