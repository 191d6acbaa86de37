"""The benchmarks' slow, lossy UDP path (benchmarks/udp_path.py): delay, seeded loss, TIDs."""

import socket
import time

import pytest

LOOPBACK = "127.0.0.1"


def udp_socket(timeout=5.0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(timeout)
    return sock


def receive_all(sock, quiet=0.3):
    """Datagrams until none comes for ``quiet`` seconds."""
    sock.settimeout(quiet)
    got = []
    while True:
        try:
            got.append(sock.recvfrom(2048))
        except TimeoutError:
            return got


def test_answer_comes_from_a_new_port_and_replies_reach_the_servers_transfer_port(udp_path):
    with (
        udp_socket() as server,
        udp_socket() as server_tid,
        udp_socket() as client,
        udp_path.UdpPath(server.getsockname(), delay=0.001) as path,
    ):
        client.sendto(b"request", (LOOPBACK, path.port))
        request, relayed_from = server.recvfrom(100)
        server_tid.sendto(b"answer", relayed_from)  # the server answers from its TID
        answer, standin = client.recvfrom(100)
        client.sendto(b"ack", standin)
        ack, ack_from = server_tid.recvfrom(100)
    assert (request, answer, ack) == (b"request", b"answer", b"ack")
    assert standin[1] != path.port  # as without the path: the answer's port is new
    assert ack_from == relayed_from  # one client, one port towards the server


def test_every_datagram_is_held_for_at_least_the_one_way_delay(udp_path):
    delay = 0.05
    with (
        udp_socket() as server,
        udp_socket() as client,
        udp_path.UdpPath(server.getsockname(), delay=delay) as path,
    ):
        sent = time.monotonic()
        client.sendto(b"x", (LOOPBACK, path.port))
        server.recvfrom(100)
        arrived = time.monotonic()
    assert arrived - sent >= delay  # never sooner; a busy machine only makes it later


def test_loss_is_seeded_per_direction_and_counted(udp_path):
    def dropped_sequence(seed):
        with (
            udp_socket() as server,
            udp_socket() as client,
            udp_path.UdpPath(server.getsockname(), loss_up=0.3, seed=seed) as path,
        ):
            for number in range(200):
                client.sendto(b"%d" % number, (LOOPBACK, path.port))
            arrived = {int(datagram) for datagram, _source in receive_all(server)}
            stats = dict(path.stats)
        assert stats["dropped_up"] + stats["forwarded_up"] == 200
        assert len(arrived) == stats["forwarded_up"]
        return sorted(set(range(200)) - arrived)

    first = dropped_sequence(seed=4)
    assert first == dropped_sequence(seed=4)  # the same seed drops the same datagrams
    assert first != dropped_sequence(seed=5)
    assert 30 <= len(first) <= 90  # about 30 % of 200, with room for chance


def test_path_refuses_to_relay_anywhere_but_loopback(udp_path):
    with pytest.raises(ValueError, match="loopback"):
        udp_path.UdpPath(("192.0.2.1", 69))
