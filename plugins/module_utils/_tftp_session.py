# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One TFTP client transfer: its socket, the request and option negotiation, timers, errors.

Private: the directions are in ``_tftp_client``, the public names in ``tftp`` (which also
documents the behaviour choices). Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import contextlib
import errno
import math
import os
import socket
import struct
import sys
import time

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_codec import (
    DEFAULT_BLKSIZE,
    ERR_ILLEGAL_OP,
    ERR_OPTIONS,
    ERR_UNDEFINED,
    ERR_UNKNOWN_TID,
    MAX_BLKSIZE,
    MAX_BLOCK,
    OP_ERROR,
    OP_OACK,
    OPCODE_NAMES,
    TftpError,
    TftpProtocolError,
    TftpRemoteError,
    TftpTimeout,
    option_int,
    pack_error,
    pack_request,
    parse_packet,
)

DEFAULT_PORT = appendix_d.row("time_firmware").mpcpu_port
BACKOFF_CAP = 16  # the wait doubles per retransmission up to 16 times ``timeout``
# The adaptive wait is at least the smoothed round trip plus this (or ``timeout`` if less):
# a peer that pauses (a busy machine, a server writing to disk) must not look like a loss.
# Linux TCP bounds its RTTVAR term the same way (rto_min).
MIN_RTO = 0.2
CLOCK_GRANULARITY = 0.001  # RFC 6298's G: monotonic() is far finer, the kernel timer is not
# The wait moves in steps of this: each change costs a system call (SO_RCVTIMEO), and a wait
# that followed every microsecond of jitter would change on nearly every packet.
RTO_STEP = 0.01
SOCKET_BUFFER = 4 * 1024 * 1024  # room for whole windows of large blocks; the kernel may clamp
RECEIVE_BUFFER = 4 + MAX_BLKSIZE + 1  # one byte more than any legal packet: oversize shows
MIN_WAIT = 0.001  # SO_RCVTIMEO of 0 would mean "forever"
TIMEVAL = struct.Struct("@ll")
UNKNOWN_TID = pack_error(ERR_UNKNOWN_TID)
# Socket errors a later attempt may not meet (the path or the peer); others (a local file,
# an address we cannot bind) will repeat.
NETWORK_ERRNOS = frozenset(
    (
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
    )
)


# collections.namedtuple rather than typing.NamedTuple: a module process imports this, and
# typing costs it a few milliseconds.
TransferResult = collections.namedtuple(
    "TransferResult",
    [
        "bytes",  # payload bytes moved
        "duration",  # seconds from the first request to the last packet
        "blocks",  # DATA blocks in the file (the empty final block counts)
        "retransmissions",  # packets sent again after a timeout (requests, ACKs, DATA)
        "options",  # options the server acknowledged, {name: int}; {} without an OACK
        "blksize",  # block size used
        "windowsize",  # window size used
    ],
)
TransferResult.__doc__ = "What one transfer did."


def backoff_wait(first_wait, retransmission, timeout=None):
    """Seconds to wait after the ``retransmission``-th retransmission in a row (0: none yet):
    doubling from ``first_wait``, up to ``BACKOFF_CAP`` times ``timeout`` (or ``first_wait``)."""
    ceiling = BACKOFF_CAP * (first_wait if timeout is None else timeout)
    return min(first_wait * 2**retransmission, ceiling)


class RetransmissionTimer:
    """The first wait for an answer, from the measured round trip (RFC 6298).

    Starts at ``timeout``; then SRTT + max(4 RTTVAR, MIN_RTO), at least 2 SRTT, never above
    ``timeout``: the user's ``timeout`` is the most a first wait can be, as before. Callers
    feed only round trips of packets sent once (Karn's rule): an answer to a packet sent
    twice may answer either copy.
    """

    def __init__(self, timeout):
        self.srtt = None  # smoothed round trip, seconds
        self.rttvar = None  # its mean deviation
        self.limit(timeout)

    def limit(self, timeout):
        """Bound the first wait by ``timeout`` from now on (and start there if unmeasured)."""
        self.ceiling = timeout
        self.rto = timeout if self.srtt is None else self.bounded()

    def sample(self, rtt):
        """Take one measured round trip; the new first wait."""
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = self.bounded()
        return self.rto

    def bounded(self):
        rto = self.srtt + max(CLOCK_GRANULARITY, 4 * self.rttvar, MIN_RTO)
        # and at least twice the round trip: a slow path's jitter outgrows its RTTVAR
        rto = max(rto, 2 * self.srtt)
        return min(math.ceil(rto / RTO_STEP) * RTO_STEP, self.ceiling)


class Blocks:
    """Block numbers on the wire (16 bits, wrapping to 0 or 1) against absolute counts."""

    def __init__(self, rollover):
        self.rollover = rollover
        self.modulus = MAX_BLOCK + 1 if rollover == 0 else MAX_BLOCK

    def wire(self, absolute):
        if self.rollover == 0:
            return absolute & MAX_BLOCK
        return (absolute - 1) % MAX_BLOCK + 1 if absolute else 0

    def absolute(self, wire, near):
        """The absolute block closest to ``near`` that is sent as ``wire``."""
        if wire == 0 and self.rollover:
            return 0 if near < MAX_BLOCK // 2 else -1  # block 0 exists only before block 1
        distance = (wire - self.wire(near)) % self.modulus
        if distance > self.modulus // 2:
            distance -= self.modulus
        return near + distance


class Channel:
    """The transfer's UDP port (its TID), with a receive timeout that costs no extra system
    call per packet.

    Two sockets share the port once the peer is known: the first, unconnected, hears
    everyone; the second is connected to the peer. The kernel delivers the peer's packets
    to the connected socket (the closer match) and anything else to the first, so the
    per-block loops send and receive without addresses and without a route lookup per
    packet (about a microsecond less per packet on loopback), while strangers are still
    seen and answered with ERROR 5 (``answer_strangers``). Where a second socket cannot
    share the port, the first one is connected instead and strangers get the kernel's
    ICMP error rather than ERROR 5.

    On Linux the timeout is the kernel's SO_RCVTIMEO on a blocking socket, set only when it
    changes; elsewhere it is ``settimeout`` (a poll before every receive).
    """

    def __init__(self, family, source_address):
        self.family = family
        self.sock = self.open()
        try:
            self.sock.bind(source_address or ("::" if family == socket.AF_INET6 else "", 0))
        except OSError:
            self.sock.close()
            raise
        self.connected = None  # the socket connected to the peer, once it is known
        self.receiver = self.sock  # the socket the timeout applies to
        self.buffer = bytearray(RECEIVE_BUFFER)
        self.view = memoryview(self.buffer)
        self.stray = bytearray(RECEIVE_BUFFER)  # strangers' packets: never over the buffer
        self.kernel_timeout = sys.platform.startswith("linux") and self.kernel_timeout_works()
        self.timeout = None

    def open(self):
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # both sockets, one port
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
        except OSError:
            sock.close()
            raise
        return sock

    def kernel_timeout_works(self):
        """True if SO_RCVTIMEO reads back as set: the struct timeval layout is the expected one."""
        probe = TIMEVAL.pack(1, 500000)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, probe)
            back = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, TIMEVAL.size)
        except (AttributeError, OSError):
            return False
        return back == probe

    def connect(self, peer):
        """From now on, exchange packets with ``peer`` on a socket connected to it."""
        connected = self.open()
        try:
            connected.bind(self.sock.getsockname())
            connected.connect(peer)
        except OSError:
            connected.close()
            self.sock.connect(peer)
            connected = self.sock
        else:
            self.sock.settimeout(0)  # from now on only drained, never waited on
        self.connected = self.receiver = connected
        self.timeout = None

    def set_timeout(self, seconds):
        if seconds == self.timeout:
            return
        self.timeout = seconds
        if self.kernel_timeout:
            whole = int(seconds)
            micro = max(int((seconds - whole) * 1000000), 0 if whole else 1)
            timeval = TIMEVAL.pack(whole, micro)
            self.receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        else:
            self.receiver.settimeout(seconds)

    def descriptor_io(self):
        """(handle, send, receive) for the per-block loop: ``send(handle, packet)``,
        ``receive(handle, [buffer])`` -> length, on the socket connected to the peer.

        On Linux the descriptor's own ``os.write`` and ``os.readv``: the kernel's timeout
        holds for them as for send and recv, and they cost the interpreter less per call
        than the socket's methods (about 0.2 us a packet). Elsewhere the socket's methods,
        whose timeout is a poll that the descriptor calls would skip.
        """
        if self.kernel_timeout:
            return self.connected.fileno(), os.write, os.readv
        return self.connected, socket.socket.send, _receive_into_first

    def receive(self):
        """(length, source) of the next datagram on the unconnected socket, in ``buffer``;
        None when the wait ran out. Only while the peer is not known yet."""
        try:
            return self.sock.recvfrom_into(self.buffer)
        except (BlockingIOError, TimeoutError):
            return None

    def answer_strangers(self, peer):
        """ERROR 5 to each packet waiting on the unconnected socket (RFC 1350), except an
        ERROR (never answered) and the peer's own (sent before ``connect``)."""
        if self.connected is None or self.connected is self.sock:
            return
        stray = self.stray
        while True:
            try:
                length, source = self.sock.recvfrom_into(stray)
            except (BlockingIOError, InterruptedError):
                return
            is_error = length >= 4 and stray[1] == OP_ERROR and not stray[0]
            if source[:2] != peer[:2] and not is_error:
                self.refuse(source)

    def refuse(self, source):
        """ERROR 5, best effort: a stranger's trouble must not end our transfer."""
        with contextlib.suppress(OSError):
            self.sock.sendto(UNKNOWN_TID, source)

    def close(self):
        if self.connected is not None and self.connected is not self.sock:
            self.connected.close()
        self.sock.close()


def _receive_into_first(sock, buffers):
    return sock.recv_into(buffers[0])


Settings = collections.namedtuple("Settings", ["blksize", "windowsize", "options"])


class Transfer:
    """State shared by both directions: the socket, the peer's TID, timers and counters.

    A subclass sets ``request_opcode`` and ``verb`` and implements ``transfer(opcode,
    length)``, called with the first answer to the request in the channel's buffer.
    """

    request_opcode = None
    verb = None

    def __init__(self, client, filename, fileobj):
        self.client = client
        self.filename = filename
        self.fileobj = fileobj
        self.blocks = Blocks(client.rollover)
        self.family, self.server = client.resolve()
        self.channel = None
        self.peer = None
        self.settings = None
        self.started = time.monotonic()
        self.deadline = (
            self.started + client.total_timeout if client.total_timeout else float("inf")
        )
        self.retransmissions = 0
        self.transferred = 0
        self.block_count = 0
        self.timer = RetransmissionTimer(client.timeout)
        self.base_wait = client.timeout  # the first wait: the timer's, when it has measured
        self.wait = client.timeout  # the current wait: backed off after a loss
        self.attempt = 0
        self.resend_at = 0.0
        self.stalled_since = self.started

    def run(self):
        """Request, negotiate, transfer; the ``TransferResult``. The socket is always closed."""
        try:
            answer = self.request(self.client.requested_options(self.request_size()))
            if answer is None:
                answer = self.request({})
            self.transfer(*answer)
            self.channel.answer_strangers(self.peer)
        except (TftpRemoteError, TftpTimeout):
            raise
        except TftpProtocolError as error:
            self.abort(ERR_ILLEGAL_OP, str(error))
            raise
        except OSError as error:  # the socket or the local file
            self.abort(ERR_UNDEFINED, "transfer aborted: %s" % (error,))
            message = "TFTP %s of %r with %s failed: %s" % (
                self.verb,
                self.filename,
                self.where(),
                error,
            )
            raise TftpError(message, retryable=error.errno in NETWORK_ERRNOS) from error
        except BaseException as error:
            self.abort(ERR_UNDEFINED, "transfer aborted: %s" % (error,))
            raise
        finally:
            if self.channel is not None:
                self.channel.close()
        return TransferResult(
            bytes=self.transferred,
            duration=time.monotonic() - self.started,
            blocks=self.block_count,
            retransmissions=self.retransmissions,
            options=dict(self.settings.options),
            blksize=self.settings.blksize,
            windowsize=self.settings.windowsize,
        )

    def request_size(self):
        """The ``tsize`` to ask with, None for none."""
        return None

    # Timers --------------------------------------------------------------------------------

    def arm(self, now):
        """Start the retransmission timer after a send (never past the total deadline)."""
        self.resend_at = now + self.wait
        if self.resend_at <= self.deadline:
            self.channel.set_timeout(self.wait)
        else:
            self.resend_at = self.deadline
            self.channel.set_timeout(max(self.deadline - now, MIN_WAIT))

    def restart_timer(self, now):
        """``arm`` for the per-block loops: no system call unless the wait changed."""
        self.resend_at = now + self.wait
        if self.resend_at > self.deadline or self.channel.timeout != self.wait:
            self.arm(now)

    def rearm(self):
        """After a packet that moved nothing: wait only what is left of the timer."""
        self.channel.set_timeout(max(self.resend_at - time.monotonic(), MIN_WAIT))

    def progress(self):
        """The peer moved the transfer on after a retransmission.

        The wait stays backed off until a packet sent once is answered (Karn's rule): were it
        to drop back to a first wait the path has outgrown, every packet would time out
        once and, answered after its copy, never give a round trip to learn from.
        """
        self.attempt = 0

    def measured(self, rtt):
        """A round trip of a packet sent once: the first wait follows it."""
        self.base_wait = self.wait = self.timer.sample(rtt)

    def timed_out(self):
        """The timer ran out: back off, or give up when out of retries or total time."""
        now = time.monotonic()
        if now >= self.deadline:
            raise TftpTimeout(self.total_timeout_message())
        if self.attempt == 0:
            self.stalled_since = now - self.wait
        if self.attempt >= self.client.retries:
            raise TftpTimeout(self.retries_message(now))
        self.attempt += 1
        self.wait = min(self.wait * 2, BACKOFF_CAP * self.timer.ceiling)
        return now

    # Messages ------------------------------------------------------------------------------

    def total_timeout_message(self):
        return "TFTP %s of %r with %s did not finish within total_timeout=%gs (%s)" % (
            self.verb,
            self.filename,
            self.where(),
            self.client.total_timeout,
            self.counts(),
        )

    def retries_message(self, now):
        return "no %s from %s after %d retransmissions over %.1fs (timeout=%gs, retries=%d; %s)" % (
            self.waiting_for(),
            self.where(),
            self.attempt,
            now - self.stalled_since,
            self.timer.ceiling,
            self.client.retries,
            self.counts(),
        )

    def counts(self):
        done_bytes, done_blocks = self.done()
        return "%d bytes in %d blocks done, %d retransmissions" % (
            done_bytes,
            done_blocks,
            self.retransmissions,
        )

    def done(self):
        """(bytes, blocks) of the file that the transfer has moved so far."""
        return self.transferred, self.block_count

    def waiting_for(self):
        return "answer to the %s of %r" % (name(self.request_opcode), self.filename)

    def where(self):
        """The server as the user named it: its port, not the transfer's (the peer's TID)."""
        host, port = self.client.host, self.client.port
        return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)

    # Packets -------------------------------------------------------------------------------

    def check_error(self, length):
        """An ERROR from the peer ends the transfer."""
        buffer = self.channel.buffer
        if length >= 4 and buffer[1] == OP_ERROR and not buffer[0]:
            packet = parse_packet(self.channel.view[:length])
            raise TftpRemoteError(packet.error_code, packet.message)

    def send(self, packet):
        self.channel.connected.send(packet)

    def abort(self, code, message):
        """Tell the peer the transfer is over (best effort: it may be gone already)."""
        if self.peer is not None and self.channel.connected is not None:
            with contextlib.suppress(OSError):
                self.send(pack_error(code, message))

    # Request and option negotiation --------------------------------------------------------

    def request(self, options):
        """Send the request from a new TID and wait for the first answer (retransmitting).

        Returns (opcode, length) of the answer, left in the channel's buffer, once the
        peer's TID is known; None when the server refused the options with ERROR 8.
        """
        if self.channel is not None:
            self.channel.close()
        self.peer = None
        self.channel = Channel(self.family, self.client.source_address)
        packet = pack_request(self.request_opcode, self.filename, "octet", options)
        self.channel.sock.sendto(packet, self.server)
        sent_at = time.monotonic()
        self.arm(sent_at)
        answer = self.first_answer()
        if answer is not None:
            self.measured(time.monotonic() - sent_at)
        while answer is None:
            self.arm(self.timed_out())
            self.retransmissions += 1
            self.channel.sock.sendto(packet, self.server)
            answer = self.first_answer()
        length, source = answer
        buffer = self.channel.buffer
        opcode = buffer[1] if buffer[0] == 0 and length >= 2 else -1
        if opcode == OP_ERROR:
            error = parse_packet(self.channel.view[:length])
            if error.error_code == ERR_OPTIONS and options:
                return None
            raise TftpRemoteError(error.error_code, error.message)
        self.peer = source
        self.channel.connect(source)
        self.progress()
        if opcode == OP_OACK:
            self.settings = self.accept_oack(options, parse_packet(self.channel.view[:length]))
        else:
            self.settings = Settings(DEFAULT_BLKSIZE, 1, {})
        return opcode, length

    def first_answer(self):
        """(length, source) of the first packet from the server's address; None on timeout.

        The server answers from a new port (its TID); packets from other addresses get
        ERROR 5.
        """
        channel = self.channel
        while True:
            got = channel.receive()
            if got is None:
                return None
            length, source = got
            if source[0] == self.server[0]:
                return got
            if not (length >= 4 and channel.buffer[0] == 0 and channel.buffer[1] == OP_ERROR):
                channel.refuse(source)
            self.rearm()

    def accept_oack(self, requested, oack):
        """Check the OACK against what was asked (RFC 2347-2349, 7440); the settings to use."""
        values = {}
        for option in oack.options:
            if option not in requested:
                if self.changes_nothing(option, oack.options[option]):
                    continue
                self.bad_oack("acknowledged option %r that was not requested" % option)
            try:
                values[option] = option_int(oack.options, option)
            except TftpProtocolError as error:
                self.bad_oack(str(error))
        for option in ("blksize", "windowsize"):
            if option in values and values[option] > requested[option]:
                self.bad_oack(
                    "raised %s to %d (asked %d)" % (option, values[option], requested[option])
                )
        if values.get("timeout", requested.get("timeout")) != requested.get("timeout"):
            self.bad_oack(
                "changed timeout to %d (asked %d)" % (values["timeout"], requested["timeout"])
            )
        if "timeout" in values:  # the server retransmits after it: ours waits no longer
            self.timer.limit(float(values["timeout"]))
            self.base_wait = self.wait = self.timer.rto
        return Settings(values.get("blksize", DEFAULT_BLKSIZE), values.get("windowsize", 1), values)

    @staticmethod
    def changes_nothing(option, value):
        """An option nobody asked for that restates a default or only informs (tftpy sends
        ``blksize 512`` unasked); RFC 2347 forbids it, but refusing it would gain nothing."""
        return option == "tsize" or UNASKED_DEFAULTS.get(option) == value.strip()

    def bad_oack(self, reason):
        self.abort(ERR_OPTIONS, "bad OACK: %s" % reason)
        where = self.where()
        self.peer = None  # told already: run() must not send a second ERROR
        raise TftpProtocolError("server %s sent a bad OACK: %s" % (where, reason), retryable=False)


UNASKED_DEFAULTS = {"blksize": str(DEFAULT_BLKSIZE), "windowsize": "1"}


def name(opcode):
    return OPCODE_NAMES.get(opcode, "opcode %d" % opcode)


def describe(buffer, length):
    """A few words on the packet in ``buffer``, for error messages."""
    if length < 2:
        return "packet of %d byte(s)" % length
    return "%s packet" % name((buffer[0] << 8) | buffer[1])
