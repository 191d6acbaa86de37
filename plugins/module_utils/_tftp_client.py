# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two directions of a TFTP client transfer, and ``TftpClient``.

Private: import ``TftpClient`` and ``TransferResult`` from ``tftp``, which documents the
behaviour choices. Standard library only.

The per-block loops keep what they touch in local variables and handle the common packet
(the next block, or the ACK of the whole window) inline; everything else goes to a method.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import io
import itertools
import os
import socket
import stat
import struct
import sys
import time

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_codec import (
    HEADER,
    MAX_BLKSIZE,
    MAX_BLOCK,
    MAX_TIMEOUT,
    MAX_WINDOWSIZE,
    MIN_BLKSIZE,
    MIN_TIMEOUT,
    MIN_WINDOWSIZE,
    OP_ACK,
    OP_DATA,
    OP_OACK,
    OP_RRQ,
    OP_WRQ,
    TftpError,
    TftpProtocolError,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_session import (
    DEFAULT_PORT,
    Transfer,
    describe,
    name,
)

STRANGERS_EVERY = 0xFF  # look for packets from other ports every 256 blocks (and on timeouts)
# Lock-step times the round trip of every 16th block: a path's round trip changes over
# seconds, not packets, and the clock and the arithmetic stay out of most blocks' path.
# After a loss the next block is timed: until then the wait stays backed off (Karn).
TIMED_EVERY = 0xF

# UDP generic segmentation offload (Linux 4.18+): one send of several equal-sized DATA
# packets (the last may be shorter), cut into datagrams by the kernel. Python names the
# option only from 3.12.
SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)
MAX_SEGMENTS = 64  # UDP_MAX_SEGMENTS before Linux 6.9 (128 since)
MAX_SEGMENTED = 65507  # bytes in one send: an IPv4 datagram's largest payload
# What a send says when the kernel or the device cannot segment (no checksum offload, a
# segment larger than the path's MTU): from then on the packets go one per system call.
SEGMENTATION_ERRNOS = frozenset((errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP))
# Lock-step reads this many blocks ahead (bounded in bytes), with one system call where the
# file allows (preadv) and the DATA headers packed in one call: the per-block loop is then
# a send, a receive and one comparison.
READ_AHEAD_BLOCKS = 64
READ_AHEAD_BYTES = 256 * 1024
PLAIN_FILE_TYPES = ((io.BufferedReader, io.FileIO), (io.FileIO, io.FileIO))
ACK_WORD = struct.Struct("!I")  # an ACK's opcode and block as one number: OP_ACK << 16 | block
MIN_REPAIR_ANSWER = 0.02  # seconds; see _Writer.answers_repair


class _Reader(Transfer):
    """RRQ: take DATA in order, acknowledge each window (RFC 7440), write to the file."""

    request_opcode = OP_RRQ
    verb = "read"
    expected = 1  # absolute number of the next block to write
    acked = 0  # absolute number of the last block acknowledged

    def request_size(self):
        return 0  # RFC 2349: a read asks with tsize 0 and the server answers the file size

    def waiting_for(self):
        if self.settings is None:
            return super().waiting_for()
        return "DATA block %d" % self.expected

    def transfer(self, opcode, length):
        if opcode == OP_OACK:
            self.send(HEADER.pack(OP_ACK, 0))
            self.arm(time.monotonic())
        elif opcode != OP_DATA:
            raise TftpProtocolError("server answered a read request with %s" % name(opcode))
        elif self.other_packet(length):
            return  # DATA 1 was the whole file
        self.receive_blocks()

    def receive_blocks(self):
        """Write full blocks as they come; return once the short final block is written."""
        channel = self.channel
        buffer = channel.buffer
        blksize, windowsize = self.settings.blksize, self.settings.windowsize
        full = 4 + blksize
        payload = channel.view[4:full]
        receive, send = channel.connected.recv_into, channel.connected.send
        write, pack_ack, monotonic = self.fileobj.write, HEADER.pack, time.monotonic
        rollover = self.blocks.rollover
        expected_wire = self.blocks.wire(self.expected)
        timed_at = 0.0  # when the ACK being timed went (sent once: Karn's rule)
        while True:
            try:
                length = receive(buffer)
            except (BlockingIOError, TimeoutError):
                timed_at = 0.0
                self.resend_ack()
                continue
            if (
                length == full
                and (buffer[2] << 8 | buffer[3]) == expected_wire
                and buffer[1] == OP_DATA
                and not buffer[0]
            ):
                write(payload)
                self.transferred += blksize
                block = self.expected
                self.expected = block + 1
                now = monotonic()
                if timed_at:  # this block answers the ACK we timed
                    self.measured(now - timed_at)
                    timed_at = 0.0
                if self.attempt:
                    self.progress()
                if block - self.acked >= windowsize:
                    send(pack_ack(OP_ACK, expected_wire))
                    self.acked = block
                    if not block & TIMED_EVERY or self.wait != self.base_wait:
                        timed_at = now
                expected_wire = expected_wire + 1 if expected_wire < MAX_BLOCK else rollover
                self.restart_timer(now)
                if not block & STRANGERS_EVERY:
                    channel.answer_strangers(self.peer)
            elif self.other_packet(length):
                return
            else:
                timed_at = 0.0  # a stray may have drawn an ACK again: the next block is ambiguous
                expected_wire = self.blocks.wire(self.expected)

    def other_packet(self, length):
        """Anything but a full next block; True once the final (short) block is written."""
        self.check_error(length)
        buffer = self.channel.buffer
        if buffer[0] or length < 4 or buffer[1] not in (OP_DATA, OP_OACK):
            raise TftpProtocolError("unexpected %s during a read" % describe(buffer, length))
        if buffer[1] == OP_OACK:
            block = 0  # the OACK again: our ACK 0 was lost
        else:
            block = self.blocks.absolute(buffer[2] << 8 | buffer[3], self.expected)
        if block != self.expected:
            self.answer_stray(block)
            return False
        size = length - 4
        if size > self.settings.blksize:
            raise TftpProtocolError(
                "DATA block %d carries %d bytes, more than blksize %d"
                % (block, size, self.settings.blksize)
            )
        self.fileobj.write(self.channel.view[4:length])
        self.transferred += size
        self.expected = block + 1
        if size == self.settings.blksize:  # DATA 1, the first answer to the request
            if block - self.acked >= self.settings.windowsize:
                self.send(HEADER.pack(OP_ACK, self.blocks.wire(block)))
                self.acked = block
            self.restart_timer(time.monotonic())
            return False
        self.block_count = block
        self.send(HEADER.pack(OP_ACK, self.blocks.wire(block)))
        return True

    def answer_stray(self, block):
        """A duplicate or out-of-order DATA (or OACK) from the peer.

        A copy of the last block we have (the sender missed our ACK) is answered each time;
        the first packet past a gap reports where we are (RFC 7440: the sender restarts
        there); other strays of the same window get nothing.
        """
        behind = self.expected - 1
        if block == behind or (block > behind and self.acked != behind):
            self.send(HEADER.pack(OP_ACK, self.blocks.wire(behind)))
            self.acked = behind
        self.rearm()

    def done(self):
        """(bytes, blocks) received and written so far."""
        return self.transferred, self.expected - 1

    def resend_ack(self):
        now = self.timed_out()
        self.channel.answer_strangers(self.peer)
        self.retransmissions += 1
        self.acked = self.expected - 1
        self.send(HEADER.pack(OP_ACK, self.blocks.wire(self.acked)))
        self.arm(now)


def segments_per_send(sock, size):
    """How many DATA packets of ``size`` bytes one send on ``sock`` carries: several with
    UDP segmentation offload, which this enables; 1 where the kernel lacks it."""
    count = min(MAX_SEGMENTS, MAX_SEGMENTED // size)
    if count < 2 or not sys.platform.startswith("linux"):
        return 1
    try:
        sock.setsockopt(SOL_UDP, UDP_SEGMENT, size)
    except OSError:
        return 1
    return count


class _Outbox:
    """The DATA packets of the current window, each read from the file once, kept for resends.

    Block ``n`` lives in slot ``n % windowsize``: a window never holds two blocks with the
    same slot. Blocks go out in one system call per ``batch`` (UDP segmentation offload)
    or one per packet.
    """

    def __init__(self, fileobj, blksize, windowsize, blocks, sock):
        self.fileobj = fileobj
        self.blksize = blksize
        self.windowsize = windowsize
        self.wire = blocks.wire
        self.sock = sock
        self.batch = segments_per_send(sock, 4 + blksize)
        self.packets = [bytearray(4 + blksize) for _slot in range(windowsize)]
        self.payloads = [memoryview(packet)[4:] for packet in self.packets]
        self.outgoing = list(self.packets)  # what to send per slot: the last block is shorter
        self.read = 0  # absolute number of the last block read
        self.last = None  # absolute number of the final (short) block, once read
        self.transferred = 0

    def send(self, first, last):
        """Send blocks ``first`` .. ``last`` (not past the final block); the last block sent."""
        last = self.prepare(first, last)
        if self.batch > 1:
            self.send_segmented(first, last)
        else:
            self.send_each(first, last)
        return last

    def prepare(self, first, last):
        """Read the blocks up to ``last`` not read yet; the last block there is to send."""
        if self.last is not None and last > self.last:
            last = self.last
        for block in range(max(first, self.read + 1), last + 1):
            self.load(block, block % self.windowsize)
            if block == self.last:
                return block
        return last

    def send_each(self, first, last):
        windowsize, outgoing, send = self.windowsize, self.outgoing, self.sock.send
        for block in range(first, last + 1):
            send(outgoing[block % windowsize])

    def send_segmented(self, first, last):
        """One system call per ``batch`` blocks: the kernel cuts them into datagrams."""
        windowsize, outgoing, sendmsg = self.windowsize, self.outgoing, self.sock.sendmsg
        for start in range(first, last + 1, self.batch):
            end = min(start + self.batch - 1, last)
            try:
                sendmsg([outgoing[block % windowsize] for block in range(start, end + 1)])
            except OSError as error:
                if error.errno not in SEGMENTATION_ERRNOS:
                    raise
                self.stop_segmenting()
                self.send_each(start, last)
                return

    def stop_segmenting(self):
        self.batch = 1
        # if this fails too, no matter: the sends that follow carry one packet each
        with contextlib.suppress(OSError):
            self.sock.setsockopt(SOL_UDP, UDP_SEGMENT, 0)

    def load(self, block, slot):
        size = self.fileobj.readinto(self.payloads[slot])
        HEADER.pack_into(self.packets[slot], 0, OP_DATA, self.wire(block))
        self.read = block
        if size != self.blksize:
            size = _fill(self.fileobj, self.payloads[slot], size or 0)
            if size < self.blksize:
                self.last = block
                self.outgoing[slot] = memoryview(self.packets[slot])[: 4 + size]
        self.transferred += size


class _Flight:
    """The blocks of a windowed write in flight, and which ACKs report a loss.

    RFC 7440 lets receivers acknowledge on their own cadence: at the end of each window
    counted from where the sender restarted, every ``windowsize`` blocks counted from the
    start, or at a smaller stride of their own; after a loss once, or once per
    out-of-order packet. So an ACK inside the flight is not by itself a loss: the writer
    slides its window on it and sends only new blocks. A loss is reported by an ACK short
    of the flight that is off the receiver's cadence (not ``windowsize`` or its last stride
    after the previous ACK, not a multiple of ``windowsize``); then the blocks in flight go
    once more. Not for an ACK up to ``recover``, the last block in flight at the last
    repair, that comes sooner than a round trip after it: on a path that keeps order it
    answers the blocks sent before the repair, which already covers that loss. Later, it
    answers the repair itself, and one short of ``recover`` is a loss among the blocks sent
    again (RFC 6582's partial acknowledgment): repaired at once, not after a timeout. A
    repeated ACK never sends anything (RFC 1123: it may be the network's copy); the timer
    does the rest.
    """

    def __init__(self, windowsize):
        self.windowsize = windowsize
        self.base = 0  # the last block acknowledged
        self.sent = 0  # the last block sent
        self.recover = 0  # the last block in flight when blocks were last sent again
        self.stride = windowsize  # the receiver's last step between two ACKs

    def acknowledge(self, block, answers_repair=False):
        """Take a new ACK of ``block`` (base < block <= sent); True when it reports a loss.
        ``answers_repair``: it came a round trip or more after the last repair."""
        step = block - self.base
        self.base = block
        if block == self.sent or (block <= self.recover and not answers_repair):
            self.stride = step
            return False
        on_cadence = step in (self.windowsize, self.stride) or not block % self.windowsize
        self.stride = step
        return not on_cadence


class _ReadAhead:
    """The next DATA packets of a lock-step write, read a batch at a time.

    One ring of packets: ``fill`` packs every header in one call and reads the payloads in
    one ``preadv`` where the file is a plain file on disk (read from its position, which
    ``close`` moves past what was read), else with ``readinto`` per block. A batch never
    crosses a block-number rollover, so its wire numbers run on from the first.
    """

    def __init__(self, fileobj, blksize, blocks):
        self.fileobj = fileobj
        self.blksize = blksize
        self.wire = blocks.wire
        count = max(1, min(READ_AHEAD_BLOCKS, READ_AHEAD_BYTES // (4 + blksize)))
        self.ring = bytearray((4 + blksize) * count)
        ring = memoryview(self.ring)
        self.packets = [
            ring[slot : slot + 4 + blksize] for slot in range(0, len(ring), 4 + blksize)
        ]
        self.payloads = [packet[4:] for packet in self.packets]
        # "x" pads write zeros: headers are packed before the payloads are read
        self.headers = struct.Struct("!" + "HH%dx" % blksize * count)
        self.header_values = [OP_DATA, 0] * count
        self.fd, self.offset = _plain_file(fileobj)
        self.next = 1  # absolute number of the next block to read
        self.final = None  # absolute number of the final (short) block, once read
        self.final_size = 0  # its payload bytes
        self.ack_base = 0  # the ACK of block n of the current batch, as ACK_WORD reads it, - n

    def batches(self):
        """(ACK awaited, packet) per block, a batch at a time up to the final block; the ACK
        as ACK_WORD reads it (``block`` tells whose it is)."""
        while self.final is None:
            first, packets = self.fill()
            self.ack_base = (OP_ACK << 16) + self.wire(first) - first
            yield enumerate(packets, self.ack_base + first)

    def block(self, ack):
        """The absolute block an ACK of the current batch acknowledges (0: none sent yet)."""
        return ack - self.ack_base if ack else 0

    def fill(self):
        """(first block, packets): the next batch, its final packet cut to the file's end."""
        first, wire = self.next, self.wire(self.next)
        count = min(len(self.packets), MAX_BLOCK + 1 - wire)
        self.header_values[1 : 2 * count : 2] = range(wire, wire + count)
        self.headers.pack_into(self.ring, 0, *self.header_values)
        got = self.read(self.payloads[:count])
        full = got // self.blksize
        if full < count:
            self.final, self.final_size = first + full, got - full * self.blksize
            packets = self.packets[:full] + [self.packets[full][: 4 + self.final_size]]
        else:
            packets = self.packets if count == len(self.packets) else self.packets[:count]
        self.next = first + len(packets)
        return first, packets

    def read(self, payloads):
        """Payload bytes read into ``payloads``, in order; fewer only at the end of the file."""
        if self.fd is None:
            return self.read_each(payloads)
        got, wanted = 0, len(payloads) * self.blksize
        while True:
            more = os.preadv(self.fd, payloads, self.offset)
            got += more
            self.offset += more
            if not more or got == wanted:
                return got
            payloads = _after(payloads, more)

    def read_each(self, payloads):
        got, blksize, readinto = 0, self.blksize, self.fileobj.readinto
        for payload in payloads:
            size = readinto(payload)
            if size != blksize:
                size = _fill(self.fileobj, payload, size or 0)
                if size < blksize:
                    return got + size
            got += size
        return got

    def transferred_through(self, block):
        """Payload bytes of the blocks up to ``block`` (0: none), read already: every block
        before the final one is full."""
        if not block:
            return 0
        last_size = self.final_size if block == self.final else self.blksize
        return (block - 1) * self.blksize + last_size

    def close(self):
        """Leave the file positioned after what was read, as ``readinto`` would."""
        if self.fd is not None:
            self.fileobj.seek(self.offset)


def _after(views, count):
    """What remains of ``views`` once ``count`` bytes were read into them, in order."""
    for index, view in enumerate(views):
        if count < len(view):
            return [view[count:], *views[index + 1 :]]
        count -= len(view)
    return []


def _plain_file(fileobj):
    """(descriptor, position) of a file on disk opened for binary reading; (None, None) for
    anything else (in memory, a pipe, a wrapper whose descriptor is not its content)."""
    # exact types: a subclass may change what a read returns (tarfile's members are one)
    exact = (type(fileobj), type(getattr(fileobj, "raw", fileobj)))
    if not hasattr(os, "preadv") or exact not in PLAIN_FILE_TYPES:
        return None, None
    try:
        fd = fileobj.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, None
        return fd, fileobj.tell()
    except (OSError, ValueError):
        return None, None


class _Writer(Transfer):
    """WRQ: send DATA in windows (RFC 7440), advance on new ACKs, never on duplicates."""

    repaired_at = 0.0  # when blocks in flight were last sent again
    rounds = 0  # lock-step: timed blocks so far

    request_opcode = OP_WRQ
    verb = "write"

    def __init__(self, client, filename, fileobj, size):
        super().__init__(client, filename, fileobj)
        self.size = size
        self.awaited = 0
        self.outbox = None
        self.flight = None
        self.ahead = None  # lockstep: the blocks read ahead

    def request_size(self):
        return self.size if self.size is not None else _file_size(self.fileobj)

    def waiting_for(self):
        if self.settings is None:
            return super().waiting_for()
        return "ACK of block %d" % self.awaited

    def transfer(self, opcode, length):
        buffer = self.channel.buffer
        if opcode == OP_ACK and length >= 4 and (buffer[2] or buffer[3]):
            raise TftpProtocolError("server answered a write request with ACK of a block > 0")
        if opcode not in (OP_ACK, OP_OACK):
            raise TftpProtocolError("server answered a write request with %s" % name(opcode))
        try:
            if self.settings.windowsize == 1:
                self.lockstep()
            else:
                self.windows()
        except ConnectionRefusedError:
            # ICMP port unreachable: a copy sent after the peer closed its port, which it does
            # once it has the whole file. The kernel reports the error before the packets
            # already queued, so the final ACK may be waiting behind it: then we are done.
            if not self.final_ack_waiting():
                raise
            self.block_count = self.final_block()
            if self.outbox is not None:
                self.transferred = self.outbox.transferred
            else:
                self.transferred = self.ahead.transferred_through(self.block_count)

    def final_block(self):
        """The absolute number of the final (short) block, once it has been read."""
        if self.outbox is not None:
            return self.outbox.last
        return self.ahead.final if self.ahead is not None else None

    def final_ack_waiting(self):
        """True if an ACK of the final block is among the packets already received."""
        final = self.final_block()
        if final is None:
            return False
        final_wire, buffer = self.blocks.wire(final), self.channel.buffer
        while True:
            try:
                length = self.channel.connected.recv_into(buffer, 0, socket.MSG_DONTWAIT)
            except ConnectionRefusedError:
                continue  # one more ICMP error for another late copy
            except (BlockingIOError, TimeoutError):
                return False
            ack = length == 4 and not buffer[0] and buffer[1] == OP_ACK
            if ack and (buffer[2] << 8 | buffer[3]) == final_wire:
                return True

    def lockstep(self):
        """Window size 1 (RFC 1350): send a block, wait for its ACK; the common case, kept tight.

        Blocks come from ``_ReadAhead`` a batch at a time. A steady block (sent once,
        acknowledged at once, the kernel's timeout already the wait, far from the total
        deadline) touches only local variables and reads no clock: the clock is read for
        every 16th block (timed to its ACK) and for every block once anything changed the
        timers (a timed round trip, a timeout, a duplicate, the deadline within 16 waits).
        """
        channel = self.channel
        handle, send, receive = channel.descriptor_io()
        buffer, buffers = channel.buffer, [channel.buffer]
        unpack, monotonic = ACK_WORD.unpack_from, time.monotonic
        self.ahead = ahead = _ReadAhead(self.fileobj, self.settings.blksize, self.blocks)
        ack = now = 0  # the ACK awaited, as ACK_WORD reads it: its low bits are the block's
        steady, wait, latest = False, self.wait, 0.0
        untimed = 0  # blocks before the next timed one: a countdown, which the interpreter
        # specialises, rather than a mask of the (large) ACK number
        try:
            for ack, packet in itertools.chain.from_iterable(ahead.batches()):
                send(handle, packet)
                if not steady or untimed == 0:
                    now = monotonic()
                    if not steady or now > latest:
                        steady, wait, latest = self.restart_lockstep_timer(now, ahead.block(ack))
                while True:
                    try:
                        length = receive(handle, buffers)
                    except (BlockingIOError, TimeoutError):
                        self.awaited, steady = ahead.block(ack), False
                        self.resend(packet)
                        continue
                    if length == 4 and unpack(buffer)[0] == ack:
                        break
                    resend_at = monotonic() + wait if steady else None
                    if self.other_answer(length, ahead.block(ack), resend_at):
                        break
                    steady = False
                if untimed == 0 or (not steady and (self.attempt or self.wait != self.base_wait)):
                    self.answered(monotonic() - now)
                    steady = False
                if untimed == 0:
                    untimed = self.timed_round()
                else:
                    untimed -= 1
        finally:
            block = ahead.block(ack)
            self.awaited, self.transferred = block, ahead.transferred_through(block)
            ahead.close()
        self.block_count = block

    def timed_round(self):
        """A timed block is done: how many go untimed before the next; strangers' packets are
        answered every 16 rounds (256 blocks)."""
        self.rounds += 1
        if not self.rounds % (STRANGERS_EVERY // (TIMED_EVERY + 1) + 1):
            self.channel.answer_strangers(self.peer)
        return TIMED_EVERY

    def restart_lockstep_timer(self, now, block):
        """The timer restarted for ``block``, sent at ``now``: (steady, the wait, the latest
        moment a steady run may go on without reading the clock per block).

        A steady block is answered within the wait or times out (and is steady no more), so
        the 16 blocks up to the next clock reading end within 16 waits: past ``latest`` every
        block restarts the timer, and none is sent without its whole wait before the deadline.
        """
        self.awaited = block
        self.restart_timer(now)
        wait = self.wait
        steady = not self.attempt and wait == self.base_wait == self.channel.timeout
        return steady, wait, self.deadline - (TIMED_EVERY + 2) * wait

    def other_answer(self, length, block, resend_at):
        """True if a packet other than the plain ACK acknowledges ``block``; a duplicate
        moves nothing and sends nothing (RFC 1123): wait what is left of the timer, due at
        ``resend_at`` (None: as the transfer last armed it)."""
        self.awaited = block
        if self.acknowledged(length) == block:
            return True
        if resend_at is not None:
            self.resend_at = resend_at
        self.rearm()
        return False

    def answered(self, rtt):
        """The block went out ``rtt`` ago and is acknowledged: time it if it was sent once."""
        if self.attempt:
            self.progress()
        else:
            self.measured(rtt)

    def resend(self, outgoing):
        """The timer ran out (backing off, or giving up): send the block again."""
        now = self.timed_out()
        self.channel.answer_strangers(self.peer)
        self.retransmissions += 1
        self.send(outgoing)
        self.arm(now)

    def windows(self):
        """RFC 7440, sliding: a window in flight; blocks go again only as ``_Flight`` says."""
        blksize, windowsize = self.settings.blksize, self.settings.windowsize
        sock = self.channel.connected
        self.outbox = outbox = _Outbox(self.fileobj, blksize, windowsize, self.blocks, sock)
        self.flight = flight = _Flight(windowsize)
        send_blocks = outbox.send
        monotonic = time.monotonic
        timed_block, timed_at = 0, 0.0  # a block sent once, timed to its ACK (Karn's rule)
        strangers_after = STRANGERS_EVERY
        while flight.base != outbox.last:
            if flight.sent != outbox.last and flight.sent < flight.base + windowsize:
                fresh = flight.sent + 1
                flight.sent = send_blocks(fresh, flight.base + windowsize)
                self.awaited = flight.sent
                now = monotonic()
                if not timed_block:
                    # the first block new in the batch: on a lossy path an ACK often stops
                    # short of the batch's last, and every such ACK is still a round trip
                    timed_block, timed_at = fresh, now
            else:
                now = monotonic()
            self.restart_timer(now)
            acked = self.wait_ack(flight)
            if acked is None:
                timed_block = 0
                self.timed_out()
                self.channel.answer_strangers(self.peer)
                self.send_again(flight)
                continue
            if acked > strangers_after:
                self.channel.answer_strangers(self.peer)
                strangers_after = acked + STRANGERS_EVERY
            if self.attempt and acked > flight.base:
                self.progress()
            if timed_block and acked >= timed_block:
                self.measured(monotonic() - timed_at)
                timed_block = 0
            if flight.acknowledge(acked, self.answers_repair()):
                timed_block = 0
                self.send_again(flight)
        self.transferred = outbox.transferred
        self.block_count = outbox.last

    def send_again(self, flight):
        """A loss: every block in flight once more (a strict receiver dropped those after it)."""
        if flight.sent > flight.base:
            self.retransmissions += flight.sent - flight.base
            self.outbox.send(flight.base + 1, flight.sent)
        flight.recover = flight.sent
        self.repaired_at = time.monotonic()

    def answers_repair(self):
        """True if an ACK now can answer the blocks last sent again: it comes at least half a
        round trip after them (and never sooner than MIN_REPAIR_ANSWER, where the path's
        round trip is too short to tell the two apart from a busy machine's delays)."""
        srtt = self.timer.srtt
        if srtt is None:
            return False
        return time.monotonic() - self.repaired_at >= max(srtt / 2, MIN_REPAIR_ANSWER)

    def wait_ack(self, flight):
        """The block of the next ACK that moves ``flight``; None when the timer ran out.

        A duplicate ACK moves nothing and sends nothing (Sorcerer's Apprentice, RFC 1123).
        """
        buffer = self.channel.buffer
        receive = self.channel.connected.recv_into
        sent_wire = self.blocks.wire(flight.sent)
        while True:
            try:
                length = receive(buffer)
            except (BlockingIOError, TimeoutError):
                return None
            if (
                (buffer[2] << 8 | buffer[3]) == sent_wire
                and length == 4
                and buffer[1] == OP_ACK
                and not buffer[0]
            ):
                return flight.sent
            block = self.acknowledged(length)
            if flight.base < block <= flight.sent:
                return block
            self.rearm()

    def acknowledged(self, length):
        """The absolute block of an ACK from the peer; -1 for a late copy of the OACK."""
        self.check_error(length)
        buffer = self.channel.buffer
        if length >= 2 and not buffer[0] and buffer[1] == OP_OACK:
            return -1  # the request was sent twice and answered twice
        if length < 4 or buffer[0] or buffer[1] != OP_ACK:
            raise TftpProtocolError("unexpected %s during a write" % describe(buffer, length))
        return self.blocks.absolute(buffer[2] << 8 | buffer[3], self.awaited)

    def done(self):
        """(bytes, blocks) the peer has acknowledged: every block before the last is full."""
        if self.settings is None:
            return 0, 0
        acknowledged = self.flight.base if self.flight is not None else max(self.awaited - 1, 0)
        return acknowledged * self.settings.blksize, acknowledged


def _fill(fileobj, view, got):
    """Read on into ``view`` after ``got`` bytes until it is full or the file ends."""
    size = len(view)
    while got < size:
        more = fileobj.readinto(view[got:])
        if not more:
            break
        got += more
    return got


def _file_size(fileobj):
    """Bytes left from the current position of a seekable file, else None."""
    try:
        if not fileobj.seekable():
            return None
        here = fileobj.tell()
        end = fileobj.seek(0, 2)
        fileobj.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return end - here


def _check_range(option, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError("%s must be a whole number in %d..%d, got %r" % (option, low, high, value))


def _check_seconds(option, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("%s must be a number of seconds above 0, got %r" % (option, value))


class TftpClient:
    """A TFTP client for one server; ``read`` and ``write`` each run one transfer."""

    def __init__(
        self,
        host,
        port=DEFAULT_PORT,
        *,
        blksize=None,
        windowsize=None,
        tsize=True,
        timeout=1.0,
        retries=5,
        total_timeout=60.0,
        rollover=0,
        source_address=None,
        timeout_option=None,
    ):
        port_problem = appendix_d.port_problem(port)
        if port_problem:
            raise ValueError("port: %s" % port_problem)
        if blksize is not None:
            _check_range("blksize", blksize, MIN_BLKSIZE, MAX_BLKSIZE)
        if windowsize is not None:
            _check_range("windowsize", windowsize, MIN_WINDOWSIZE, MAX_WINDOWSIZE)
        if timeout_option is not None:
            _check_range("timeout_option", timeout_option, MIN_TIMEOUT, MAX_TIMEOUT)
        _check_range("retries", retries, 0, 1000)
        _check_seconds("timeout", timeout)
        _check_seconds("total_timeout", total_timeout, allow_none=True)
        if rollover not in (0, 1):
            raise ValueError("rollover must be 0 or 1, got %r" % (rollover,))
        self.host = host
        self.port = port
        self.blksize = blksize
        self.windowsize = windowsize
        self.tsize = bool(tsize)
        self.timeout = float(timeout)
        self.retries = retries
        self.total_timeout = total_timeout
        self.rollover = rollover
        self.timeout_option = timeout_option
        if isinstance(source_address, str):
            source_address = (source_address, 0)
        self.source_address = source_address

    def resolve(self):
        """(family, socket address) of the server, in the source address's family if given."""
        family = socket.AF_UNSPEC
        if self.source_address is not None:
            family = socket.AF_INET6 if ":" in self.source_address[0] else socket.AF_INET
        try:
            found = socket.getaddrinfo(self.host, self.port, family, socket.SOCK_DGRAM)
        except socket.gaierror as error:
            raise TftpError("cannot resolve TFTP server %r: %s" % (self.host, error)) from None
        family, _type, _proto, _canonical, address = found[0]
        return family, address

    def requested_options(self, size):
        """The options of a request: only those the caller asked for."""
        options = {}
        if self.blksize is not None:
            options["blksize"] = self.blksize
        if self.windowsize is not None:
            options["windowsize"] = self.windowsize
        if self.timeout_option is not None:
            options["timeout"] = self.timeout_option
        if self.tsize and size is not None:
            options["tsize"] = size
        return options

    def read(self, remote_name, fileobj):
        """Fetch ``remote_name`` into the binary file object ``fileobj``.

        ``fileobj.write`` is given a memoryview that is reused for the next block: a file
        object copies it (as files and BytesIO do) or must not keep it.
        """
        return _Reader(self, remote_name, fileobj).run()

    def write(self, remote_name, fileobj, size=None):
        """Send the rest of the binary file object ``fileobj`` as ``remote_name``.

        ``size`` is announced as ``tsize``; without it the size is found by seek/tell when
        ``fileobj`` is seekable, and not announced otherwise.
        """
        return _Writer(self, remote_name, fileobj, size).run()
