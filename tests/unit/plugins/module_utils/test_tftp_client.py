"""TFTP client state machine against a scripted server on loopback that counts every packet."""

import collections
import errno
import io
import itertools
import multiprocessing
import os
import random
import socket
import tarfile
import threading
import time
import types

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import (
    _tftp_client,
    _tftp_session,
    tftp,
)

LOOPBACK = "127.0.0.1"
FORK = multiprocessing.get_context("fork")
PEER_LIFETIME = 30  # seconds: a peer that is still serving then has lost its client
RECORDED = ("requests", "log", "received", "stranger_got", "failure")
FINAL_RESENDS = 5  # a read's final block sent again this often unanswered: the peer gives up


def payload(size, seed=7):
    return random.Random(seed).randbytes(size)


def wire_block(absolute, rollover):
    """How the peer numbers blocks, written independently of the client's code."""
    if rollover == 0:
        return absolute % 65536
    return 0 if absolute == 0 else (absolute - 1) % 65535 + 1


NEARBY = (0, *itertools.chain.from_iterable((d, -d) for d in range(1, 1024)))


def absolute_block(wire, near, rollover):
    """The block sent as ``wire`` among the few around ``near`` (windows are small here)."""
    for distance in NEARBY:
        if near + distance >= 0 and wire_block(near + distance, rollover) == wire:
            return near + distance
    return -1


class ClientGaveUp(Exception):
    """The client sent an ERROR: the transfer is over for the peer too."""


class Peer:
    """A TFTP server for one transfer, following RFC 1350/2347/7440.

    It runs in a child process (a thread would share the GIL with the client and turn every
    packet into a thread switch) and hands what it recorded back when the block ends.

    Knobs: ``options`` ("accept", "ignore", "refuse" with ERROR 8, or a dict to put in the
    OACK as is), ``limits`` for "accept", ``lose(direction, opcode, block, seen)`` to drop
    a packet ("in" or "out"; ``seen`` counts earlier packets alike), ``resend_after`` (its
    own retransmission timeout), ``resend_on_duplicate_ack``, ``duplicate_acks``,
    ``stranger_at`` (a block after which a second socket sends a look-alike packet),
    ``error`` (answer the request with this ERROR code). A write's receiver acknowledges
    every ``ack_every`` blocks (default: the window size) counted from where the sender
    restarted (``ack_cadence="restart"``) or from the start of the transfer ("start"), and
    after a gap its last in-order block for each out-of-order packet (``stray_acks="each"``)
    or for the first only ("first"); RFC 7440 allows all of these. ``dally``: seconds a
    write's receiver stays after its final ACK to answer copies of the final block (RFC
    1350's dally, for paths that lose that ACK).
    Records: ``requests``, ``log`` of (time, "in"/"out", Packet), ``received`` (a write's
    bytes), ``stranger_got`` (what the second socket got back).
    """

    def __init__(self, family=socket.AF_INET, host=LOOPBACK, **knobs):
        self.family, self.host = family, host
        self.content = knobs.pop("content", b"")
        self.options = knobs.pop("options", "accept")
        self.limits = knobs.pop("limits", None)
        self.lose = knobs.pop("lose", lambda direction, opcode, block, seen: False)
        self.resend_after = knobs.pop("resend_after", 5.0)
        self.resend_on_duplicate_ack = knobs.pop("resend_on_duplicate_ack", False)
        self.duplicate_acks = knobs.pop("duplicate_acks", False)
        self.stranger_at = knobs.pop("stranger_at", None)
        self.error = knobs.pop("error", None)
        self.rollover = knobs.pop("rollover", 0)
        self.ack_cadence = knobs.pop("ack_cadence", "restart")
        self.ack_every = knobs.pop("ack_every", None)
        self.stray_acks = knobs.pop("stray_acks", "each")
        self.dally = knobs.pop("dally", 0.0)
        assert not knobs, knobs
        self.listener = socket.socket(family, socket.SOCK_DGRAM)
        self.listener.bind((host, 0))
        self.port = self.listener.getsockname()[1]
        self.requests, self.log, self.received = [], [], bytearray()
        self.stranger = self.stranger_got = None
        self.failure = None
        self.seen = {}
        self.gives_up_at = None
        self.process = self.results = None

    def __enter__(self):
        self.results, child_end = FORK.Pipe(duplex=False)
        self.process = FORK.Process(target=self.run_child, args=(child_end,), daemon=True)
        self.process.start()
        child_end.close()
        return self

    def run_child(self, results):
        self.gives_up_at = time.monotonic() + PEER_LIFETIME
        self.serve()
        results.send({name: getattr(self, name) for name in RECORDED})

    def __exit__(self, *exc_info):
        try:
            finished = self.results.poll(1 if exc_info[0] else PEER_LIFETIME + 5)
            if finished:
                self.__dict__.update(self.results.recv())
        finally:
            self.process.join(1)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
            self.results.close()
            self.listener.close()
        if exc_info[0] is None:
            assert finished, "the peer did not finish its transfer"
            assert self.failure is None, self.failure

    def client(self, **kwargs):
        kwargs.setdefault("timeout", 0.2)
        kwargs.setdefault("total_timeout", 20)
        return tftp.TftpClient(self.host, self.port, **kwargs)

    # Packets -------------------------------------------------------------------------------

    def count(self, direction, packet):
        key = (direction, packet.opcode, packet.block)
        seen = self.seen.get(key, 0)
        self.seen[key] = seen + 1
        return seen

    def send(self, sock, data, address):
        packet = tftp.parse_packet(data)
        self.log.append((time.monotonic(), "out", packet))
        if not self.lose("out", packet.opcode, packet.block, self.count("out", packet)):
            sock.sendto(data, address)

    def receive(self, sock, timeout):
        """The next packet from the client that is not lost; None after ``timeout``."""
        sock.settimeout(timeout)
        while True:
            if time.monotonic() > self.gives_up_at:
                raise TimeoutError("peer gave up after %ss" % PEER_LIFETIME)
            try:
                data, _address = sock.recvfrom(70000)
            except TimeoutError:
                return None
            packet = tftp.parse_packet(data)
            self.log.append((time.monotonic(), "in", packet))
            if packet.opcode == tftp.OP_ERROR:
                raise ClientGaveUp(packet)
            if not self.lose("in", packet.opcode, packet.block, self.count("in", packet)):
                return packet

    def sent(self, direction, opcode, block=None):
        return [
            entry for entry in self.log
            if entry[1] == direction and entry[2].opcode == opcode
            and (block is None or entry[2].block == block)
        ]  # fmt: skip

    # Serving -------------------------------------------------------------------------------

    def serve(self):
        try:
            self.listener.settimeout(10)
            while True:
                data, address = self.listener.recvfrom(70000)
                request = tftp.parse_packet(data)
                self.requests.append(request)
                with socket.socket(self.family, socket.SOCK_DGRAM) as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # whole windows
                    sock.bind((self.host, 0))
                    if self.answer(sock, request, address):
                        break
            if self.stranger is not None:
                self.hear_stranger()
        except ClientGaveUp:
            return
        except Exception as error:  # noqa: BLE001 - reported by __exit__
            self.failure = repr(error)

    def answer(self, sock, request, address):
        """Serve one request; False when it was refused and a retry is expected."""
        if self.error is not None:
            sock.sendto(tftp.pack_error(self.error, "scripted error"), address)
            return True
        if self.options == "refuse" and request.options:
            sock.sendto(tftp.pack_error(tftp.ERR_OPTIONS, "no options here"), address)
            return False
        accepted = self.accepted(request)
        blksize = int(accepted.get("blksize", 512))
        windowsize = int(accepted.get("windowsize", 1))
        if request.opcode == tftp.OP_RRQ:
            self.serve_read(sock, address, accepted, blksize, windowsize)
        else:
            self.serve_write(sock, address, accepted, blksize, windowsize)
        return True

    def accepted(self, request):
        if self.options in ("ignore", "refuse"):
            return {}
        if isinstance(self.options, dict):
            return self.options
        size = len(self.content) if request.opcode == tftp.OP_RRQ else None
        return tftp.negotiate_options(request.options, self.limits, size)

    def serve_read(self, sock, address, accepted, blksize, windowsize):
        if accepted:
            self.send(sock, tftp.pack_oack(accepted), address)
            while (ack := self.receive(sock, self.resend_after)) is None or ack.block != 0:
                self.send(sock, tftp.pack_oack(accepted), address)
        chunks = [self.content[i : i + blksize] for i in range(0, len(self.content), blksize)]
        if len(self.content) % blksize == 0:
            chunks.append(b"")
        base, unanswered_finals = 0, 0
        while base < len(chunks):
            for block in range(base + 1, min(base + windowsize, len(chunks)) + 1):
                self.send_data(sock, address, block, chunks[block - 1])
            moved = self.await_ack(sock, base)
            if moved == base and base + windowsize >= len(chunks):
                unanswered_finals += 1
                if unanswered_finals == FINAL_RESENDS:
                    return  # the client had it all and left: its final ACK was lost
            base = moved

    def send_data(self, sock, address, block, chunk):
        if block == self.stranger_at:
            self.play_stranger(address, tftp.pack_data(wire_block(block, self.rollover), b"X"))
        self.send(sock, tftp.pack_data(wire_block(block, self.rollover), chunk), address)

    def await_ack(self, sock, base):
        """The new base after the next ACK that moves it, or ``base`` to resend the window."""
        while True:
            ack = self.receive(sock, self.resend_after)
            if ack is None:
                return base
            assert ack.opcode == tftp.OP_ACK, ack
            block = absolute_block(ack.block, base, self.rollover)
            if block > base:
                return block
            if self.resend_on_duplicate_ack:
                return base

    def serve_write(self, sock, address, accepted, blksize, windowsize):
        self.ack(sock, address, 0, tftp.pack_oack(accepted) if accepted else None)
        expected, in_window, answered_stray = 1, 0, False
        every = self.ack_every or windowsize
        while True:
            data = self.receive(sock, self.resend_after)
            if data is None:
                oack = tftp.pack_oack(accepted) if accepted and expected == 1 else None
                self.ack(sock, address, expected - 1, oack)  # the OACK was the "ACK 0"
                continue
            assert data.opcode == tftp.OP_DATA, data
            if absolute_block(data.block, expected, self.rollover) != expected:
                if self.stray_acks == "each" or not answered_stray:
                    self.ack(sock, address, expected - 1)  # RFC 7440: where the sender restarts
                answered_stray = True
                in_window = 0
                continue
            self.received += data.payload
            in_window += 1
            answered_stray = False
            if len(data.payload) < blksize:
                self.ack(sock, address, expected)
                self.answer_final_copies(sock, address, expected)
                return
            if (
                self.ack_cadence == "start"
                and not expected % every
                or (self.ack_cadence == "restart" and in_window == every)
            ):
                self.ack(sock, address, expected)
                in_window = 0
            if expected == self.stranger_at:
                self.play_stranger(address, tftp.pack_ack(wire_block(expected + 1, self.rollover)))
            expected += 1

    def answer_final_copies(self, sock, address, final):
        quiet_until = time.monotonic() + self.dally
        while time.monotonic() < quiet_until:
            if self.receive(sock, quiet_until - time.monotonic()) is not None:
                self.ack(sock, address, final)

    def ack(self, sock, address, block, packet=None):
        packet = packet or tftp.pack_ack(wire_block(block, self.rollover))
        for _copy in range(2 if self.duplicate_acks else 1):
            self.send(sock, packet, address)

    def play_stranger(self, address, packet):
        """A packet for the client from another port, just before the real one."""
        self.stranger = socket.socket(self.family, socket.SOCK_DGRAM)
        self.stranger.bind((self.host, 0))
        self.stranger.sendto(packet, address)

    def hear_stranger(self):
        """Keep what the client answered the stranger (by the end of the transfer)."""
        with self.stranger:
            self.stranger.settimeout(5)
            self.stranger_got = tftp.parse_packet(self.stranger.recvfrom(70000)[0])


def lose_first(direction, opcode, block, times=1):
    def lose(seen_direction, seen_opcode, seen_block, seen):
        return (seen_direction, seen_opcode, seen_block) == (direction, opcode, block) and (
            seen < times
        )

    return lose


def write(peer, data, **kwargs):
    return peer.client(**kwargs).write("up.bin", io.BytesIO(data))


def read(peer, **kwargs):
    out = io.BytesIO()
    result = peer.client(**kwargs).read("down.bin", out)
    return result, out.getvalue()


# Option negotiation ----------------------------------------------------------------------


def test_read_uses_the_options_the_server_acknowledged():
    data = payload(10000)
    with Peer(content=data, limits={"blksize": 1024, "windowsize": 4, "tsize": True}) as peer:
        result, got = read(peer, blksize=1428, windowsize=8)
    assert got == data
    assert result.options == {"blksize": 1024, "windowsize": 4, "tsize": 10000}
    assert (result.blksize, result.windowsize, result.bytes, result.blocks) == (1024, 4, 10000, 10)
    assert peer.requests[0].options == {"blksize": "1428", "windowsize": "8", "tsize": "0"}
    acks = [entry[2].block for entry in peer.sent("in", tftp.OP_ACK)]
    assert acks == [0, 4, 8, 10]  # one ACK for the OACK, then one per window, then the last


def test_write_sends_blocks_of_the_acknowledged_size_and_announces_the_size():
    data = payload(5000)
    with Peer(limits={"blksize": 1000, "tsize": True}) as peer:
        result = write(peer, data, blksize=1400)
    assert bytes(peer.received) == data
    assert peer.requests[0].options == {"blksize": "1400", "tsize": "5000"}
    assert result.options == {"blksize": 1000, "tsize": 5000}
    sizes = [len(entry[2].payload) for entry in peer.sent("in", tftp.OP_DATA)]
    assert sizes == [1000] * 5 + [0]


def test_server_that_ignores_options_gets_512_byte_blocks_one_at_a_time():
    data = payload(2000)
    with Peer(options="ignore") as peer:
        result = write(peer, data, blksize=1428, windowsize=8)
    assert bytes(peer.received) == data
    assert (result.blksize, result.windowsize, result.options) == (512, 1, {})
    assert [len(e[2].payload) for e in peer.sent("in", tftp.OP_DATA)] == [512] * 3 + [464]
    with Peer(options="ignore", content=data) as peer:
        result, got = read(peer, blksize=1428, windowsize=8)
    assert got == data
    assert (result.blksize, result.windowsize, result.options) == (512, 1, {})


def test_options_refused_with_error_8_are_dropped_and_the_request_sent_again():
    data = payload(3000)
    with Peer(options="refuse", content=data) as peer:
        result, got = read(peer, blksize=1428)
    assert got == data
    assert [request.options for request in peer.requests] == [{"blksize": "1428", "tsize": "0"}, {}]
    assert (result.options, result.blksize) == ({}, 512)
    with Peer(options="refuse") as peer:
        write(peer, data, windowsize=4)
    assert bytes(peer.received) == data
    assert len(peer.requests) == 2 and peer.requests[1].options == {}


def test_oack_raising_the_block_size_is_refused_with_error_8():
    with Peer(options={"blksize": 2048}) as peer, pytest.raises(tftp.TftpProtocolError) as caught:
        read(peer, blksize=1024)
    assert "raised blksize to 2048 (asked 1024)" in str(caught.value)
    errors = peer.sent("in", tftp.OP_ERROR)
    assert [entry[2].error_code for entry in errors] == [tftp.ERR_OPTIONS]


def test_oack_with_an_option_nobody_asked_for_is_refused():
    with Peer(options={"windowsize": 4}) as peer, pytest.raises(tftp.TftpProtocolError) as caught:
        write(peer, b"abc")
    assert "'windowsize' that was not requested" in str(caught.value)


def test_oack_restating_a_default_nobody_asked_for_is_tolerated():
    # tftpy answers any option with an OACK that also holds "blksize 512".
    with Peer(options={"blksize": 512, "tsize": 3}, content=b"abc") as peer:
        result, got = read(peer)
    assert got == b"abc"
    assert (result.options, result.blksize) == ({"tsize": 3}, 512)


def test_timeout_option_is_asked_only_when_set_and_then_used():
    with Peer(content=b"x" * 600) as peer:
        result, _got = read(peer, timeout_option=2, tsize=False)
    assert peer.requests[0].options == {"timeout": "2"}
    assert result.options == {"timeout": 2}


def test_no_options_asked_when_none_are_wanted():
    with Peer(content=b"abc") as peer:
        result, got = read(peer, tsize=False)
    assert got == b"abc"
    assert peer.requests[0].options == {}
    assert result.options == {}


def test_unseekable_source_is_sent_without_tsize_unless_a_size_is_given():
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.sendall(b"from a pipe")
        writer.shutdown(socket.SHUT_WR)
        with Peer() as peer:
            peer.client().write("up.bin", reader.makefile("rb"))
    assert bytes(peer.received) == b"from a pipe"
    assert peer.requests[0].options == {}
    with Peer() as peer:
        peer.client().write("up.bin", io.BytesIO(b"12345"), size=5)
    assert peer.requests[0].options == {"tsize": "5"}


def test_remote_error_is_raised_with_its_code_and_message():
    with Peer(error=tftp.ERR_NOT_FOUND) as peer, pytest.raises(tftp.TftpRemoteError) as caught:
        read(peer)
    assert (caught.value.code, caught.value.message) == (1, "scripted error")
    assert "ERROR 1 (File not found): scripted error" in str(caught.value)


# Loss, retransmission, timeouts ----------------------------------------------------------


# Back-off is asserted on the waits the client computes and hands to its socket, not on the
# wall clock: a loaded machine stretches the gaps between packets, never the arithmetic.


@pytest.fixture
def back_off(monkeypatch):
    """The waits the client armed after each of its timeouts, in order."""
    waits = []
    timed_out = _tftp_session.Transfer.timed_out
    armed = []
    set_timeout = _tftp_session.Channel.set_timeout

    def recording(transfer):
        now = timed_out(transfer)
        waits.append(transfer.wait)
        return now

    def arming(channel, seconds):
        armed.append(seconds)
        set_timeout(channel, seconds)

    monkeypatch.setattr(_tftp_session.Transfer, "timed_out", recording)
    monkeypatch.setattr(_tftp_session.Channel, "set_timeout", arming)
    return types.SimpleNamespace(waits=waits, armed=armed)


def test_back_off_doubles_per_retransmission_up_to_the_cap():
    waits = [_tftp_session.backoff_wait(0.5, n) for n in range(7)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert tftp.BACKOFF_CAP == 16


def test_lost_data_of_a_write_is_sent_again_with_doubling_waits(back_off):
    data = payload(3000)
    with Peer(lose=lose_first("in", tftp.OP_DATA, 3, times=2)) as peer:
        result = write(peer, data, timeout=0.1)
    assert bytes(peer.received) == data
    assert len(peer.sent("in", tftp.OP_DATA, 3)) == 3
    assert result.retransmissions == len(back_off.waits) >= 2
    assert back_off.waits[-2:] == [0.2, 0.4]  # the two timeouts of block 3, in a row
    assert {0.1, 0.2, 0.4} <= set(back_off.armed)  # and the socket waited that long


def test_portable_timeout_without_so_rcvtimeo_behaves_the_same(monkeypatch):
    monkeypatch.setattr(_tftp_session.Channel, "kernel_timeout_works", lambda channel: False)
    data = payload(3000)
    with Peer(lose=lose_first("in", tftp.OP_DATA, 2)) as peer:
        result = write(peer, data, timeout=0.1, windowsize=2)
    assert bytes(peer.received) == data
    assert result.retransmissions >= 1
    with Peer(content=data, lose=lose_first("out", tftp.OP_DATA, 2), resend_after=0.1) as peer:
        _result, got = read(peer, timeout=0.1)
    assert got == data


def test_lost_data_of_a_read_makes_the_client_repeat_its_ack_with_doubling_waits(back_off):
    data = payload(3000)
    lose = lose_first("out", tftp.OP_DATA, 3, times=2)
    with Peer(content=data, lose=lose, resend_on_duplicate_ack=True, resend_after=30) as peer:
        result, got = read(peer, timeout=0.1)
    assert got == data
    assert len(peer.sent("in", tftp.OP_ACK, 2)) == 3
    assert result.retransmissions == len(back_off.waits) >= 2
    assert back_off.waits[-2:] == [0.2, 0.4]
    assert {0.1, 0.2, 0.4} <= set(back_off.armed)


def test_lost_ack_of_a_read_is_repaired_by_the_servers_retransmission():
    data = payload(3000)
    with Peer(content=data, lose=lose_first("in", tftp.OP_ACK, 2), resend_after=0.1) as peer:
        result, got = read(peer, timeout=5)
    assert got == data
    assert len(peer.sent("out", tftp.OP_DATA, 2)) == 2
    assert len(peer.sent("in", tftp.OP_ACK, 2)) == 2  # the duplicate DATA 2 was acknowledged
    assert result.retransmissions == 0


def test_unanswered_request_is_sent_again_from_the_same_port_with_capped_back_off(back_off):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((LOOPBACK, 0))
        client = tftp.TftpClient(LOOPBACK, silent.getsockname()[1], timeout=0.02, retries=7)
        arrivals = []
        recorder = threading.Thread(target=record_arrivals, args=(silent, arrivals, 8))
        recorder.start()
        with pytest.raises(tftp.TftpTimeout):
            client.read("x", io.BytesIO())
        recorder.join(10)
        silent.setblocking(False)
        with pytest.raises(BlockingIOError):
            silent.recv(1000)  # nothing after the seventh retransmission
    assert len(arrivals) == 8  # the request and its seven retransmissions
    assert len({source for _when, _data, source in arrivals}) == 1  # one TID
    # doubling, capped at 16 x timeout from the 4th retransmission on
    assert back_off.waits == pytest.approx([0.04, 0.08, 0.16, 0.32, 0.32, 0.32, 0.32])
    assert sorted(set(back_off.armed)) == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.32])
    first, last = arrivals[0][0], arrivals[-1][0]
    assert last - first >= 0.02 + 0.04 + 0.08 + 0.16 + 0.32 * 3  # never sooner than that


def record_arrivals(sock, arrivals, count):
    sock.settimeout(3)
    for _arrival in range(count):
        try:
            data, source = sock.recvfrom(70000)
        except TimeoutError:
            return
        arrivals.append((time.monotonic(), data, source))


def test_silent_server_fails_after_the_retries_with_a_clear_message():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((LOOPBACK, 0))
        port = silent.getsockname()[1]
        client = tftp.TftpClient(LOOPBACK, port, timeout=0.02, retries=3, tsize=False)
        with pytest.raises(tftp.TftpTimeout) as caught:
            client.write("fw.bin", io.BytesIO(b"abc"))
    message = str(caught.value)
    assert "no answer to the WRQ of 'fw.bin' from 127.0.0.1:%d" % port in message
    assert "after 3 retransmissions" in message
    assert "timeout=0.02s, retries=3" in message


@pytest.mark.parametrize("windowsize", [1, 4])
def test_timeout_mid_write_counts_what_was_acknowledged_and_names_the_users_port(windowsize):
    def lose(direction, opcode, block, seen):
        return direction == "out" and opcode == tftp.OP_ACK and block > 4

    with pytest.raises(tftp.TftpTimeout) as caught, Peer(lose=lose, resend_after=30) as peer:
        write(peer, payload(512 * 10), timeout=0.05, retries=1, windowsize=windowsize)
    message = str(caught.value)
    assert "from 127.0.0.1:%d after 1 retransmissions" % peer.port in message
    assert "2048 bytes in 4 blocks done" in message


def test_timeout_mid_read_counts_what_was_received():
    def lose(direction, opcode, block, seen):
        return direction == "out" and opcode == tftp.OP_DATA and block > 3

    with pytest.raises(tftp.TftpTimeout) as caught, Peer(content=payload(5120), lose=lose) as peer:
        read(peer, timeout=0.05, retries=1)
    assert "no DATA block 4 from 127.0.0.1:%d" % peer.port in str(caught.value)
    assert "1536 bytes in 3 blocks done" in str(caught.value)


def test_total_timeout_bounds_the_whole_transfer():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((LOOPBACK, 0))
        port = silent.getsockname()[1]
        client = tftp.TftpClient(LOOPBACK, port, timeout=0.05, retries=1000, total_timeout=0.4)
        started = time.monotonic()
        with pytest.raises(tftp.TftpTimeout) as caught:
            client.read("fw.bin", io.BytesIO())
        elapsed = time.monotonic() - started
    assert "TFTP read of 'fw.bin' with 127.0.0.1:%d did not finish within total_timeout=0.4s" % (
        port
    ) in str(caught.value)
    # not sooner; and far from the ~800 s the 1000 retries would take (generous under load)
    assert 0.39 <= elapsed < 20


# Sorcerer's Apprentice --------------------------------------------------------------------


def test_duplicate_acks_never_send_a_block_twice():
    data = payload(512 * 20 + 7)
    with Peer(duplicate_acks=True) as peer:
        result = write(peer, data)
    assert bytes(peer.received) == data
    per_block = [len(peer.sent("in", tftp.OP_DATA, block)) for block in range(1, 22)]
    assert per_block == [1] * 21
    assert len(peer.sent("out", tftp.OP_ACK)) == 2 * 21
    assert result.retransmissions == 0


def test_duplicate_acks_never_send_a_block_twice_in_windows_either():
    data = payload(512 * 40 + 7)
    with Peer(duplicate_acks=True) as peer:
        result = write(peer, data, windowsize=4, timeout=5)
    assert bytes(peer.received) == data
    assert collections.Counter(e[2].block for e in peer.sent("in", tftp.OP_DATA)) == dict.fromkeys(
        range(1, 42), 1
    )
    assert result.retransmissions == 0


def test_late_ack_after_a_retransmission_does_not_double_the_next_blocks():
    # ACK 2 is lost; the client sends DATA 2 again; the server acknowledges that copy twice.
    data = payload(512 * 6)
    lose = lose_first("out", tftp.OP_ACK, 2, times=2)  # both copies of the first ACK 2
    with Peer(lose=lose, duplicate_acks=True, resend_after=30) as peer:
        result = write(peer, data, timeout=0.1)
    assert bytes(peer.received) == data
    assert len(peer.sent("in", tftp.OP_DATA, 2)) == 2
    assert [len(peer.sent("in", tftp.OP_DATA, block)) for block in (3, 4, 5, 6, 7)] == [1] * 5
    assert result.retransmissions == 1


# Windows ---------------------------------------------------------------------------------


def test_read_window_with_a_lost_block_restarts_from_the_gap():
    data = payload(1000 * 30)
    with Peer(content=data, lose=lose_first("out", tftp.OP_DATA, 5)) as peer:
        result, got = read(peer, blksize=1000, windowsize=8, timeout=5)
    assert got == data
    acks = [entry[2].block for entry in peer.sent("in", tftp.OP_ACK)]
    assert acks[:3] == [0, 4, 12]  # the gap at 5 is reported at once, then windows from 5
    assert result.retransmissions == 0  # no timeout was needed


def test_write_window_with_a_lost_block_restarts_from_the_servers_ack():
    data = payload(1000 * 30)
    with Peer(lose=lose_first("in", tftp.OP_DATA, 5)) as peer:
        result = write(peer, data, blksize=1000, windowsize=8, timeout=5)
    assert bytes(peer.received) == data
    # The server acknowledges 4 once per stray packet (6, 7, 8): only the first restarts.
    assert len(peer.sent("out", tftp.OP_ACK, 4)) == 3
    assert len(peer.sent("in", tftp.OP_DATA, 5)) == 2
    assert len(peer.sent("in", tftp.OP_DATA, 9)) == 1
    assert result.retransmissions == 4  # blocks 5..8 of the first window


ISSUE_BLOCKS = 2101  # blksize 1428, windowsize 8: the firmware push of issue 11
RECEIVERS = {
    "ACKs every window from the start, one per stray": {"ack_cadence": "start"},
    "ACKs every window from the restart, one per stray": {"ack_cadence": "restart"},
    "ACKs every window from the start, one per gap": {
        "ack_cadence": "start",
        "stray_acks": "first",
    },
    "ACKs every half window from the start, one per stray": {
        "ack_cadence": "start",
        "ack_every": 4,
    },
}


@pytest.mark.parametrize("lost", [3, 9, 1000])
@pytest.mark.parametrize("receiver", list(RECEIVERS))
def test_write_window_after_a_loss_sends_each_block_at_most_once_more(receiver, lost, monkeypatch):
    # The receivers' ACKs drive the recovery; on a busy machine a stall longer than the loopback
    # RTO (0.2 s) would also resend a window, which is timing, not what this test judges; nor
    # is an ACK that a stall delays enough to read as an answer to the repair.
    monkeypatch.setattr(_tftp_session, "MIN_RTO", 2.0)
    monkeypatch.setattr(_tftp_client, "MIN_REPAIR_ANSWER", 2.0)
    data = payload(1428 * (ISSUE_BLOCKS - 1) + 100)
    with Peer(lose=lose_first("in", tftp.OP_DATA, lost), **RECEIVERS[receiver]) as peer:
        result = write(peer, data, blksize=1428, windowsize=8, timeout=0.5)
    assert bytes(peer.received) == data
    sends = collections.Counter(entry[2].block for entry in peer.sent("in", tftp.OP_DATA))
    assert len(sends) == ISSUE_BLOCKS
    assert max(sends.values()) == 2  # the lost block, and the window in flight after it, once more
    assert sum(sends.values()) <= 1.10 * ISSUE_BLOCKS
    assert result.retransmissions == sum(sends.values()) - ISSUE_BLOCKS


def test_write_window_repairs_a_loss_among_the_blocks_sent_again_without_a_timeout(
    back_off, udp_path, monkeypatch
):
    """DATA 6 is lost, then its repair (6-8, with 9 and 10 new behind it) loses DATA 7: the
    ACK of 6 that answers the repair (a round trip after it) reports that loss, and 7 and
    what followed it go once more at once."""
    monkeypatch.setattr(_tftp_session, "MIN_RTO", 2.0)  # a timeout would take 2 s and show

    def lose(direction, opcode, block, seen):
        return (direction, opcode) == ("in", tftp.OP_DATA) and (block, seen) in ((6, 0), (7, 1))

    data = payload(512 * 9 + 100)
    with (
        Peer(lose=lose, resend_after=5.0) as peer,
        udp_path.UdpPath((LOOPBACK, peer.port), delay=0.02) as path,
    ):
        client = tftp.TftpClient(LOOPBACK, path.port, windowsize=8, timeout=3.0)
        result = client.write("up.bin", io.BytesIO(data))
    assert bytes(peer.received) == data
    assert back_off.waits == []  # no timeout: every repair came from an ACK
    sends = collections.Counter(entry[2].block for entry in peer.sent("in", tftp.OP_DATA))
    assert [sends[block] for block in range(5, 11)] == [1, 2, 3, 3, 2, 2]
    assert result.retransmissions == 7


def serve_write_then_close(listener, acks, closed):
    """Take a WRQ with windowsize 4 and two blocks, send ``acks`` and close the port."""
    _request, client = listener.recvfrom(70000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tid:
        tid.bind((LOOPBACK, 0))
        tid.sendto(tftp.pack_oack({"windowsize": 4}), client)
        received = [tid.recv(70000) for _block in (1, 2)]
        for block in acks:
            tid.sendto(tftp.pack_ack(block), client)
    closed.set()
    return received


def write_to_a_port_that_closes(monkeypatch, acks):
    """A write whose copies sent again reach the server's port only after it closed."""
    closed = threading.Event()
    send_again = _tftp_client._Writer.send_again

    def after_the_close(writer, flight):
        closed.wait(10)
        send_again(writer, flight)

    monkeypatch.setattr(_tftp_client._Writer, "send_again", after_the_close)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind((LOOPBACK, 0))
        server = threading.Thread(target=serve_write_then_close, args=(listener, acks, closed))
        server.start()
        try:
            client = tftp.TftpClient(LOOPBACK, listener.getsockname()[1], windowsize=4, timeout=5)
            return client.write("up.bin", io.BytesIO(payload(700)))
        finally:
            server.join(10)


def test_write_the_server_completed_succeeds_though_a_late_copy_is_refused(monkeypatch):
    # ACK 1 reads as a loss report: block 2 goes again, to a port closed after ACK 2 (final).
    # The kernel reports the ICMP port unreachable before the queued ACK 2.
    result = write_to_a_port_that_closes(monkeypatch, acks=[1, 2])
    assert (result.blocks, result.bytes) == (2, 700)


def test_write_to_a_port_closed_before_the_end_fails_and_may_be_retried(monkeypatch):
    with pytest.raises(tftp.TftpError, match="Connection refused") as caught:
        write_to_a_port_that_closes(monkeypatch, acks=[1])
    assert caught.value.retryable


def test_windowed_transfer_survives_random_loss_both_ways():
    data = payload(700 * 200 + 3)
    rng = random.Random(3)

    def lose(direction, opcode, block, seen):
        return seen < 2 and opcode in (tftp.OP_DATA, tftp.OP_ACK) and rng.random() < 0.05

    with Peer(content=data, lose=lose, resend_after=0.05) as peer:
        _result, got = read(peer, blksize=700, windowsize=16, timeout=0.05)
    assert got == data
    with Peer(lose=lose, resend_after=0.05) as peer:
        write(peer, data, blksize=700, windowsize=16, timeout=0.05)
    assert bytes(peer.received) == data


def test_lock_step_write_over_a_slow_lossy_path_waits_for_the_path_not_the_timeout(
    back_off, udp_path
):
    data = payload(512 * 80 + 17)
    with Peer(resend_after=0.3, dally=2.0) as peer:
        server = (LOOPBACK, peer.port)
        with udp_path.UdpPath(server, delay=0.005, loss_up=0.04, loss_down=0.04, seed=3) as path:
            client = tftp.TftpClient(LOOPBACK, path.port, timeout=1.0, total_timeout=60)
            result = client.write("image.bin", io.BytesIO(data))
    assert bytes(peer.received) == data
    assert path.stats["dropped_up"] + path.stats["dropped_down"] >= 1
    assert result.retransmissions >= 1
    # a fixed first wait of 1 s backs off to 2 s; one that follows a 10 ms path, far less
    assert min(back_off.waits) < 1.0


@pytest.mark.parametrize("windowsize", [1, 16])
def test_read_and_write_over_a_slow_lossy_path_are_byte_identical(udp_path, windowsize):
    data = payload(1428 * 150 + 5)
    options = {"blksize": 1428, "windowsize": windowsize, "timeout": 1.0, "total_timeout": 60}
    with Peer(resend_after=0.3, dally=2.0) as peer:
        server = (LOOPBACK, peer.port)
        with udp_path.UdpPath(server, delay=0.005, loss_up=0.03, loss_down=0.03, seed=5) as path:
            tftp.TftpClient(LOOPBACK, path.port, **options).write("up.bin", io.BytesIO(data))
    assert bytes(peer.received) == data
    with Peer(content=data, resend_after=0.3) as peer:
        server = (LOOPBACK, peer.port)
        with udp_path.UdpPath(server, delay=0.005, loss_up=0.03, loss_down=0.03, seed=6) as path:
            got = io.BytesIO()
            tftp.TftpClient(LOOPBACK, path.port, **options).read("down.bin", got)
    assert got.getvalue() == data


# UDP segmentation offload ------------------------------------------------------------------


def kernel_segments_udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        return _tftp_client.segments_per_send(probe, 1432) > 1


@pytest.fixture
def sendmsg_calls(monkeypatch):
    """The number of packets in each sendmsg the client makes (the peer runs in a child)."""
    calls = []
    sendmsg = socket.socket.sendmsg

    def counting(sock, buffers, *args):
        calls.append(len(buffers))
        return sendmsg(sock, buffers, *args)

    monkeypatch.setattr(socket.socket, "sendmsg", counting)
    return calls


@pytest.mark.skipif(not kernel_segments_udp(), reason="this kernel has no UDP_SEGMENT")
def test_windowed_write_sends_each_window_in_one_system_call(sendmsg_calls):
    data = payload(1428 * 100 + 9)
    with Peer(lose=lose_first("in", tftp.OP_DATA, 40)) as peer:
        write(peer, data, blksize=1428, windowsize=16)
    assert bytes(peer.received) == data  # the kernel cut the sends into single blocks
    assert sum(sendmsg_calls) >= 101  # every block, and the window after the loss again
    assert max(sendmsg_calls) == 16
    assert len(sendmsg_calls) < 101 / 4


def test_windowed_write_where_the_kernel_cannot_segment_sends_one_packet_per_call(
    monkeypatch, sendmsg_calls
):
    monkeypatch.setattr(_tftp_client, "UDP_SEGMENT", 0x7FFF)  # an option no kernel knows
    data = payload(1428 * 100 + 9)
    with Peer(lose=lose_first("in", tftp.OP_DATA, 40)) as peer:
        write(peer, data, blksize=1428, windowsize=16)
    assert bytes(peer.received) == data
    assert sendmsg_calls == []


def test_segmented_send_refused_by_the_device_falls_back_to_one_packet_per_call(monkeypatch):
    refused = []

    def no_offload(sock, buffers, *args):
        refused.append(len(buffers))
        raise OSError(errno.EIO, "device cannot segment")  # no checksum offload

    monkeypatch.setattr(socket.socket, "sendmsg", no_offload)
    monkeypatch.setattr(_tftp_client, "segments_per_send", lambda sock, size: 16)
    data = payload(1428 * 100 + 9)
    with Peer() as peer:
        result = write(peer, data, blksize=1428, windowsize=16)
    assert bytes(peer.received) == data
    assert refused == [16]  # tried once, then never again
    assert result.retransmissions == 0


# Block numbers ---------------------------------------------------------------------------

WIDE = 256  # 65,541 tiny blocks in few round trips: the wrap, not the wait, is under test


@pytest.mark.slow
@pytest.mark.parametrize("rollover", [0, 1])
def test_block_numbers_roll_over_past_65535_on_write(rollover):
    data = payload(8 * 65540 + 3)
    with Peer(rollover=rollover) as peer:
        result = write(peer, data, blksize=8, windowsize=WIDE, rollover=rollover, timeout=2)
    assert bytes(peer.received) == data
    assert result.blocks == 65541
    wires = [entry[2].block for entry in peer.sent("in", tftp.OP_DATA)]
    assert _blocks_in_order(wires, rollover) == 65541


def _blocks_in_order(wires, rollover):
    """How many blocks were first sent in order under the peer's numbering (wire_block): the
    count stops short where the client numbers a block wrongly, past the wrap say. Copies sent
    again (an adaptive wait on a busy machine may resend a window) are passed over."""
    sent = 0
    for wire in wires:
        if wire == wire_block(sent + 1, rollover):
            sent += 1
            continue
        recent = set(wire_block(block, rollover) for block in range(sent - 2 * WIDE, sent + 1))
        assert wire in recent, "block %d sent as %d" % (sent + 1, wire)
    return sent


@pytest.mark.slow
@pytest.mark.parametrize("rollover", [0, 1])
def test_block_numbers_roll_over_past_65535_on_read(rollover):
    data = payload(8 * 65540 + 3)
    with Peer(content=data, rollover=rollover) as peer:
        result, got = read(peer, blksize=8, windowsize=WIDE, rollover=rollover, timeout=2)
    assert got == data
    assert result.blocks == 65541
    assert peer.sent("in", tftp.OP_ACK)[-1][2].block == wire_block(65541, rollover)


@pytest.mark.slow
def test_block_numbers_roll_over_past_65535_to_1_in_lock_step(tmp_path):
    """Lock-step reads ahead in batches that stop at the wrap: the numbers run on past it.
    (Past 65535 to 0: tests/interop, against atftpd and tftpd-hpa.)"""
    rollover = 1
    data = payload(8 * 65540 + 3)
    source = tmp_path / "image.bin"
    source.write_bytes(data)
    with Peer(rollover=rollover) as peer, source.open("rb") as stream:
        client = peer.client(blksize=8, rollover=rollover, timeout=2, total_timeout=120)
        result = client.write("up.bin", stream)
    assert bytes(peer.received) == data
    assert result.blocks == 65541
    wires = [entry[2].block for entry in peer.sent("in", tftp.OP_DATA)]
    assert _blocks_in_order(wires, rollover) == 65541


# Where a write's bytes come from ---------------------------------------------------------


@pytest.fixture(params=["memory", "disk", "pipe"])
def source_of(request, tmp_path):
    """``make(data, skip)``: a binary file positioned after ``skip`` bytes of its own, then
    ``data``: in memory, on disk (read with preadv) or a pipe (readinto, as memory is)."""
    opened, writers = [], []

    def make(data, skip=b""):
        if request.param == "memory":
            stream = io.BytesIO(skip + data)
        elif request.param == "disk":
            path = tmp_path / "source.bin"
            path.write_bytes(skip + data)
            stream = path.open("rb")
        else:
            read_end, write_end = os.pipe()
            writer = threading.Thread(target=_feed, args=(write_end, skip + data))
            writer.start()
            writers.append(writer)
            stream = open(read_end, "rb")  # noqa: SIM115 - closed by the fixture
        opened.append(stream)
        assert stream.read(len(skip)) == skip
        return stream

    make.kind = request.param
    yield make
    for writer in writers:
        writer.join(10)
    for stream in opened:
        stream.close()


def _feed(write_end, data):
    with open(write_end, "wb") as pipe:
        pipe.write(data)


def test_lock_step_write_sends_the_same_bytes_from_memory_disk_or_pipe(source_of):
    data = payload(512 * 150 + 7)  # 151 blocks: three batches read ahead
    lose = lose_first("in", tftp.OP_DATA, 70)  # a block of the second batch is sent again
    with Peer(lose=lose, duplicate_acks=True) as peer:
        # after the peer's fork: a copy of the pipe's write end there would hold off its end
        stream = source_of(data, skip=b"not sent" * 100)
        result = peer.client(timeout=0.2).write("up.bin", stream)
    assert bytes(peer.received) == data
    assert (result.blocks, result.bytes) == (151, len(data))
    assert len(peer.sent("in", tftp.OP_DATA, 70)) == 2
    assert [len(peer.sent("in", tftp.OP_DATA, block)) for block in (1, 64, 65, 151)] == [1] * 4
    assert stream.read() == b""  # left at the end, as a reader of the file would leave it


def test_read_ahead_reads_on_after_a_short_preadv(tmp_path, monkeypatch):
    """A preadv may return less than asked before the end of a file: read on where it stopped."""
    preadv = os.preadv

    def at_most_700_bytes(fd, buffers, offset):
        wanted, room = [], 700
        for buffer in buffers:
            wanted.append(memoryview(buffer)[:room])
            room -= len(wanted[-1])
            if not room:
                break
        return preadv(fd, wanted, offset)

    monkeypatch.setattr(os, "preadv", at_most_700_bytes)
    data = payload(512 * 70 + 300)
    (tmp_path / "source.bin").write_bytes(data)
    with Peer() as peer, (tmp_path / "source.bin").open("rb") as stream:
        result = peer.client().write("up.bin", stream)
    assert bytes(peer.received) == data
    assert (result.blocks, result.bytes) == (71, len(data))


def test_only_a_binary_file_on_disk_is_read_with_preadv(tmp_path, source_of):
    stream = source_of(b"x" * 10)
    uses_preadv = _tftp_client._plain_file(stream)[0] is not None
    assert uses_preadv == (source_of.kind == "disk")
    (tmp_path / "text.txt").write_text("x")
    with (tmp_path / "text.txt").open() as text:
        assert _tftp_client._plain_file(text) == (None, None)
    with tarfile.open(tmp_path / "image.tar", "w") as archive:
        archive.add(tmp_path / "text.txt", "member.txt")
    with (
        tarfile.open(tmp_path / "image.tar") as archive,
        archive.extractfile("member.txt") as member,
    ):
        assert isinstance(member, io.BufferedReader)  # but not one on disk of its own
        assert _tftp_client._plain_file(member) == (None, None)


# Transfer IDs ----------------------------------------------------------------------------


def test_packet_from_a_wrong_port_gets_error_5_during_a_read_and_is_ignored():
    data = payload(512 * 8)
    with Peer(content=data, stranger_at=4) as peer:
        result, got = read(peer)
    assert got == data  # the stranger's look-alike DATA 4 ("X") was not taken
    assert (peer.stranger_got.opcode, peer.stranger_got.error_code) == (tftp.OP_ERROR, 5)
    assert result.retransmissions == 0


def test_packet_from_a_wrong_port_gets_error_5_during_a_write_and_is_ignored():
    data = payload(512 * 8)
    with Peer(stranger_at=3) as peer:
        write(peer, data)
    assert bytes(peer.received) == data
    assert peer.stranger_got.error_code == tftp.ERR_UNKNOWN_TID
    assert [len(peer.sent("in", tftp.OP_DATA, block)) for block in range(1, 10)] == [1] * 9


# Addresses and sizes ---------------------------------------------------------------------


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_available(), reason="this host has no ::1")
def test_ipv6_read_and_write_on_loopback():
    data = payload(4000)
    with Peer(family=socket.AF_INET6, host="::1", content=data) as peer:
        result, got = read(peer, blksize=1024, windowsize=2)
    assert got == data and result.blksize == 1024
    with Peer(family=socket.AF_INET6, host="::1") as peer:
        write(peer, data, source_address="::1")
    assert bytes(peer.received) == data


def test_file_of_whole_blocks_ends_with_an_empty_block():
    data = payload(512 * 3)
    with Peer() as peer:
        result = write(peer, data)
    assert [len(entry[2].payload) for entry in peer.sent("in", tftp.OP_DATA)] == [512] * 3 + [0]
    assert (result.blocks, result.bytes) == (4, 1536)
    with Peer(content=data) as peer:
        result, got = read(peer)
    assert got == data
    assert (result.blocks, result.bytes) == (4, 1536)
    assert [entry[2].block for entry in peer.sent("in", tftp.OP_ACK)] == [0, 1, 2, 3, 4]


def test_empty_file_is_one_empty_block():
    with Peer() as peer:
        result = write(peer, b"")
    assert [len(entry[2].payload) for entry in peer.sent("in", tftp.OP_DATA)] == [0]
    assert (result.blocks, result.bytes) == (1, 0)


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"blksize": 7}, "blksize must be a whole number in 8..65464"),
        ({"windowsize": 0}, "windowsize must be a whole number in 1..65535"),
        ({"rollover": 2}, "rollover must be 0 or 1"),
        ({"timeout": 0}, "timeout must be a number of seconds above 0"),
        ({"total_timeout": -1}, "total_timeout must be"),
        ({"port": 70000}, "^port: 70000 is not a port number from 1 to 65535$"),
        ({"timeout_option": 256}, "timeout_option must be"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(arguments, complaint):
    with pytest.raises(ValueError, match=complaint):
        tftp.TftpClient(LOOPBACK, **arguments)


def test_local_socket_failure_is_a_tftp_error_naming_the_transfer():
    client = tftp.TftpClient(LOOPBACK, 6969, source_address="192.0.2.254")  # not ours: no bind
    with pytest.raises(tftp.TftpError) as caught:
        client.read("fw.bin", io.BytesIO())
    assert str(caught.value).startswith("TFTP read of 'fw.bin' with 127.0.0.1:6969 failed: ")
    assert isinstance(caught.value.__cause__, OSError)


class FullDisk(io.RawIOBase):
    def writable(self):
        return True

    def write(self, data):
        raise OSError(28, "No space left on device")


def test_local_file_failure_tells_the_server_and_is_a_tftp_error():
    with Peer(content=payload(2000)) as peer, pytest.raises(tftp.TftpError, match="No space"):
        peer.client().read("down.bin", FullDisk())
    errors = peer.sent("in", tftp.OP_ERROR)
    assert [entry[2].error_code for entry in errors] == [tftp.ERR_UNDEFINED]
    assert "No space left on device" in errors[0][2].message


def test_unknown_host_is_a_tftp_error():
    with pytest.raises(tftp.TftpError, match="cannot resolve TFTP server"):
        tftp.TftpClient("no-such-host.invalid").read("x", io.BytesIO())
