"""The shared SNTP client, and the time module's use of it, on loopback."""

import socket
import struct
import threading
import time

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import mpcpu_time
from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import ClientError, sntp
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

T1 = 1795521600.0


def reply(origin, received, sent, *, mode=4, stratum=2, refid=b"GPS\x00"):
    head = struct.pack("!BBbb", 4 << 3 | mode, stratum, 6, -20) + bytes(8) + refid
    return head + sntp.to_ntp(received) + origin + sntp.to_ntp(received) + sntp.to_ntp(sent)


def test_timestamps_round_trip_to_the_microsecond():
    assert sntp.from_ntp(sntp.to_ntp(T1 + 0.123456)) == pytest.approx(T1 + 0.123456, abs=1e-6)


def test_request_is_a_version_4_client_packet_carrying_the_transmit_time():
    packet = sntp.request_packet(T1)
    assert len(packet) == 48
    assert packet[0] == 0b00_100_011
    assert packet[40:48] == sntp.to_ntp(T1)


def test_offset_and_delay_follow_rfc_4330():
    # server 10 s ahead; 20 ms each way; 1 ms inside the server
    origin = sntp.to_ntp(T1)
    data = reply(origin, T1 + 10.020, T1 + 10.021)
    answer = sntp.interpret(data, origin, T1, T1 + 0.041)
    assert answer["offset"] == pytest.approx(10.0, abs=1e-6)
    assert answer["delay"] == pytest.approx(0.040, abs=1e-6)
    assert answer["stratum"] == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x24" * 20, "reply of 20 bytes is not an NTP packet"),
        (reply(sntp.to_ntp(T1), T1, T1, mode=3), "reply in NTP mode 3"),
        (reply(sntp.to_ntp(T1), T1, T1, stratum=0, refid=b"RATE"), "kiss-o'-death 'RATE'"),
        (reply(sntp.to_ntp(T1 - 5), T1, T1), "does not answer our request"),
    ],
)
def test_unusable_replies_are_refused(data, message):
    with pytest.raises(ClientError, match=message):
        sntp.interpret(data, sntp.to_ntp(T1), T1, T1)


@pytest.fixture
def ntp_server():
    """An SNTP server on loopback whose clock is 100 s ahead of ours."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)

    def serve():
        try:
            data, peer = server.recvfrom(512)
        except OSError:
            return
        origin = data[40:48]
        now = sntp.from_ntp(origin) + 100.0
        server.sendto(reply(origin, now, now), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(5)


def test_query_measures_the_offset_of_a_real_server(ntp_server):
    offset, delay = mpcpu_time.ntp_offset("127.0.0.1", ntp_server, 2.0, time.time)
    # NTP's own bound: the error of the offset is at most half the round-trip delay, however
    # long a loaded machine makes that
    assert 0 <= delay < 2.0
    assert offset == pytest.approx(100.0, abs=delay / 2 + 0.001)


def test_silent_server_is_a_clear_error():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(MpcpuError, match=r"^ntp_server: no NTP reply from 127.0.0.1 port \d+"):
            mpcpu_time.ntp_offset("127.0.0.1", silent.getsockname()[1], 0.2, time.time)
    finally:
        silent.close()
