"""TFTP server of a simulated MPCPU (row time_firmware): octet mode, RRQ and WRQ.

Options blksize, tsize, timeout (RFC 2347/2348/2349) and windowsize (RFC 7440), each of
which a device may refuse (ERROR 8) or ignore (no OACK); block numbers roll over to 0 or 1.
Packets are encoded and decoded by the collection's ``tftp`` module. Every packet a session
sends or receives passes the device's fault plan (drop, duplicate, delay, error, die).
"""

import asyncio
import collections
import logging
import time

from mpcpu_sim import files
from mpcpu_sim.easy_cpu import send_later
from mpcpu_sim.table import tftp

LOGGER = logging.getLogger("mpcpu_sim.tftp")
KIND = {
    tftp.OP_RRQ: "rrq",
    tftp.OP_WRQ: "wrq",
    tftp.OP_DATA: "data",
    tftp.OP_ACK: "ack",
    tftp.OP_ERROR: "error",
    tftp.OP_OACK: "oack",
}
BLOCK_SPACE = tftp.MAX_BLOCK + 1


def wire_block(number, rollover):
    """The 16-bit block number carrying absolute block ``number`` (1, 2, ... 65535, ...)."""
    if number <= tftp.MAX_BLOCK:
        return number
    if rollover == 0:
        return number % BLOCK_SPACE
    return (number - BLOCK_SPACE) % tftp.MAX_BLOCK + 1


class TransferFailed(Exception):
    """A transfer ends without success; ``reply`` is an ERROR to send first, if any."""

    def __init__(self, reason, reply=None):
        super().__init__(reason)
        self.reply = reply


class Silenced(Exception):
    """A ``die`` fault: the session stops answering."""


class _Endpoint(asyncio.DatagramProtocol):
    """A transfer's own UDP port (its TID): datagrams wait in a deque the session reads.

    A plain future and timer per wait: ``asyncio.wait_for`` would cost a task per packet.
    """

    def __init__(self):
        self.pending = collections.deque()
        self.waiter = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.push((data, addr, False))

    def error_received(self, exc):
        # ICMP port unreachable and the like: the peer has gone away.
        self.push((None, exc, False))

    def push(self, item):
        self.pending.append(item)
        self._wake()

    def _wake(self):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self, timeout):
        """The next (data, addr, delayed) within ``timeout`` seconds, or None."""
        if not self.pending and timeout > 0:
            loop = asyncio.get_running_loop()
            self.waiter = loop.create_future()
            timer = loop.call_later(timeout, self._wake)
            try:
                await self.waiter
            finally:
                timer.cancel()
                self.waiter = None
        return self.pending.popleft() if self.pending else None


class Session:
    """One transfer between a client (``peer``) and the device, on a fresh local port."""

    def __init__(self, device, request, peer):
        self.device = device
        self.settings = device.settings
        self.request = request
        self.peer = peer
        self.kind = KIND[request.opcode]
        self.filename = request.filename
        self.blksize = tftp.DEFAULT_BLKSIZE
        self.windowsize = 1
        self.timeout = self.settings.tftp_timeout
        self.die_after = None
        self.counts = {}
        self.endpoint = None
        self.bytes = 0
        self.final_block = 0

    # -- packets through the fault plan ------------------------------------------------------

    def _count(self, direction, kind):
        key = (direction, kind)
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    def send(self, kind, raw, block=None):
        """Send one packet to the peer, as the fault plan decides (``block``: absolute)."""
        index = self._count("out", kind)
        fate = self.device.faults.packet_fate(
            "tftp", "out", kind, index=index, block=block, filename=self.filename
        )
        if fate.drop:
            LOGGER.debug("%s: fault: drop %s #%d (block %s)", self.device.name, kind, index, block)
            return
        send_later(self.endpoint.transport, raw, self.peer, fate)

    async def receive(self, timeout):
        """The next packet from the peer within ``timeout`` s, or None; stray TIDs get ERROR 5."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            item = await self.endpoint.get(remaining)
            if item is None:
                return None
            data, addr, delayed = item
            if data is None:
                raise TransferFailed("peer unreachable: %s" % addr)
            if addr != self.peer:
                self.endpoint.transport.sendto(
                    tftp.pack_error(tftp.ERR_UNKNOWN_TID, "unknown transfer ID"), addr
                )
                continue
            packet = self._parse(data)
            if delayed or self._admitted(data, packet):
                return packet

    def _parse(self, data):
        try:
            return tftp.parse_packet(data)
        except tftp.TftpProtocolError as error:
            reply = tftp.pack_error(tftp.ERR_ILLEGAL_OP, str(error))
            raise TransferFailed("malformed packet: %s" % error, reply) from None

    def _admitted(self, data, packet):
        kind = KIND[packet.opcode]
        index = self._count("in", kind)
        fate = self.device.faults.packet_fate(
            "tftp", "in", kind, index=index, block=packet.block, filename=self.filename
        )
        if fate.drop:
            return False
        if fate.delay > 0 or fate.copies > 1:
            loop = asyncio.get_running_loop()
            for _copy in range(fate.copies):
                loop.call_later(fate.delay, self.endpoint.push, (data, self.peer, True))
            return False
        return True

    # -- request handling --------------------------------------------------------------------

    def negotiate(self, file_size=None):
        """The options to acknowledge in an OACK ({} means: no OACK); ERROR 8 if refused."""
        requested = self.request.options or {}
        refused = sorted(name for name in requested if name in self.settings.refuse_options)
        if refused:
            raise files.Refusal(tftp.ERR_OPTIONS, "option(s) refused: %s" % ", ".join(refused))
        kept = {
            name: value
            for name, value in requested.items()
            if name not in self.settings.ignore_options
        }
        limits = {
            "blksize": self.settings.max_blksize,
            "windowsize": self.settings.max_windowsize,
            "timeout": self.settings.max_timeout,
            "tsize": True,
        }
        accepted = tftp.negotiate_options(kept, limits, file_size=file_size)
        self.blksize = accepted.get("blksize", tftp.DEFAULT_BLKSIZE)
        self.windowsize = accepted.get("windowsize", 1)
        self.timeout = float(accepted.get("timeout", self.settings.tftp_timeout))
        return accepted

    def declared_size(self):
        options = self.request.options or {}
        if "tsize" not in options or "tsize" in self.settings.ignore_options:
            return None
        try:
            return tftp.option_int(options, "tsize")
        except tftp.TftpProtocolError:
            return None

    async def run(self):
        loop = asyncio.get_running_loop()
        transport, self.endpoint = await loop.create_datagram_endpoint(
            _Endpoint, local_addr=(self.device.address, 0)
        )
        started = time.monotonic()
        what = "%s %s from %s:%d" % (self.kind, self.filename, self.peer[0], self.peer[1])
        try:
            outcome = await self._serve()
        except files.Refusal as refusal:
            self.send("error", tftp.pack_error(refusal.code, refusal.message))
            self._finished(
                "tftp_refused", "%s: ERROR %d %s" % (what, refusal.code, refusal.message)
            )
        except TransferFailed as failure:
            if failure.reply:
                self.send("error", failure.reply)
            self._finished("tftp_failed", "%s: %s" % (what, failure))
        except Silenced:
            self._finished("tftp_died", None)
            LOGGER.info("%s: fault: %s went silent", self.device.name, what)
            await asyncio.sleep(self.settings.die_linger)
        else:
            LOGGER.info(
                "%s: %s: %d bytes in %.2f s (blksize %d, windowsize %d; asked %s): %s",
                self.device.name,
                what,
                self.bytes,
                time.monotonic() - started,
                self.blksize,
                self.windowsize,
                ",".join(sorted(self.request.options or {})) or "nothing",
                outcome,
            )
            self._finished("tftp_completed", None)
            if self.kind == "wrq":
                await self._dally()
        finally:
            transport.close()

    def _finished(self, counter, error):
        if error:
            LOGGER.warning("%s: %s", self.device.name, error)
        self.device.count(counter, error)

    async def _serve(self):
        request = self.request
        if request.mode != "octet":
            message = "mode %s not supported, use octet" % request.mode
            raise files.Refusal(tftp.ERR_ILLEGAL_OP, message)
        injected = self.device.faults.request_error(self.kind, self.filename)
        if injected:
            raise files.Refusal(*injected)
        self.die_after = self.device.faults.die_after(self.kind, self.filename)
        if self.kind == "rrq":
            return await self._serve_read(files.open_read(self.device, self.filename))
        sink = files.open_write(self.device, self.filename, self.declared_size())
        return await self._serve_write(sink)

    def _maybe_die(self, number):
        if self.die_after is not None and number >= self.die_after:
            raise Silenced()

    def _wire(self, number):
        return wire_block(number, self.settings.rollover)

    # -- RRQ: the device sends ------------------------------------------------------------------

    async def _serve_read(self, data):
        accepted = self.negotiate(file_size=len(data))
        self._maybe_die(0)
        if accepted:
            await self._send_oack(tftp.pack_oack(accepted))
        total = len(data) // self.blksize + 1
        acked = 0
        while acked < total:
            acked = await self._send_window(data, acked, min(acked + self.windowsize, total))
        self.bytes = len(data)
        return "sent"

    async def _send_oack(self, raw):
        """Send the OACK until the client acknowledges it with ACK 0."""
        for _attempt in range(self.settings.tftp_retries + 1):
            self.send("oack", raw)
            if await self._await_ack(0, 0) is not None:
                return
        raise TransferFailed("timed out waiting for the ACK of the OACK")

    async def _send_window(self, data, acked, last):
        """Send blocks acked+1..last until the peer acknowledges one of them; the new ``acked``.

        Sent again after a timeout, or at once when a windowed peer repeats the ACK of the
        block before the window (it lost the window's first block, RFC 7440).
        """
        for _attempt in range(self.settings.tftp_retries + 1):
            for number in range(acked + 1, last + 1):
                chunk = data[(number - 1) * self.blksize : number * self.blksize]
                self.send("data", tftp.pack_data(self._wire(number), chunk), block=number)
                self._maybe_die(number)
            lowest = acked if self.windowsize > 1 else acked + 1
            newly_acked = await self._await_ack(lowest, last)
            if newly_acked is not None and newly_acked > acked:
                return newly_acked
        raise TransferFailed("timed out waiting for the ACK of block %d" % last)

    async def _await_ack(self, lowest, last):
        """The block in lowest..last the peer acknowledges before a timeout, or None."""
        deadline = time.monotonic() + self.timeout
        while True:
            packet = await self.receive(deadline - time.monotonic())
            if packet is None:
                return None
            if packet.opcode == tftp.OP_ERROR:
                message = "client sent ERROR %d: %s" % (packet.error_code, packet.message)
                raise TransferFailed(message)
            if packet.opcode != tftp.OP_ACK:
                reply = tftp.pack_error(tftp.ERR_ILLEGAL_OP, "expected ACK")
                raise TransferFailed("unexpected %s" % KIND[packet.opcode], reply)
            for number in range(last, lowest - 1, -1):
                if self._wire(number) == packet.block:
                    return number
            # A duplicate or stale ACK: ignoring it avoids the Sorcerer's Apprentice.

    # -- WRQ: the device receives ---------------------------------------------------------------

    async def _serve_write(self, sink):
        accepted = self.negotiate()
        self._maybe_die(0)
        first_reply = ("oack", tftp.pack_oack(accepted), None) if accepted else None
        first_reply = first_reply or ("ack", tftp.pack_ack(0), 0)
        self.send(*first_reply)
        state = _WriteState()
        while True:
            packet = await self.receive(self.timeout)
            if packet is None:
                self._on_write_timeout(state, first_reply)
                continue
            self._check_data(packet)
            if packet.block == 0 and self.settings.rollover == 1:
                # Only a client that rolls over to 0 sends DATA 0: its numbering and ours
                # part at block 65536, and a windowed upload would silently lose a block.
                message = "DATA block 0: this device rolls block numbers over to 1"
                raise TransferFailed(message, tftp.pack_error(tftp.ERR_ILLEGAL_OP, message))
            if packet.block != self._wire(state.received + 1):
                self._on_out_of_order(state, packet.block)
                continue
            state.retries, state.gap_reported = 0, False
            sink.write(packet.payload)
            self.bytes += len(packet.payload)
            state.received += 1
            state.unacked += 1
            final = len(packet.payload) < self.blksize
            outcome = sink.finish() if final else None
            if final or state.unacked >= self.windowsize:
                self._ack(state)
            self._maybe_die(state.received)
            if final:
                self.final_block = state.received
                return outcome

    def _ack(self, state):
        self.send("ack", tftp.pack_ack(self._wire(state.received)), block=state.received)
        state.unacked = 0

    def _on_write_timeout(self, state, first_reply):
        state.retries += 1
        if state.retries > self.settings.tftp_retries:
            raise TransferFailed("timed out waiting for DATA block %d" % (state.received + 1))
        if state.received == 0:
            self.send(*first_reply)  # an OACK must be repeated as an OACK, not as ACK 0
        else:
            self._ack(state)

    def _on_out_of_order(self, state, block):
        # An old block means our ACK was lost: say again where we are. A block ahead means a
        # gap in a window: ask once for a resend from the first missing block (RFC 7440).
        expected = self._wire(state.received + 1)
        behind = (expected - block) % BLOCK_SPACE < BLOCK_SPACE // 2
        if behind or not state.gap_reported:
            self._ack(state)
            state.gap_reported = state.gap_reported or not behind

    def _check_data(self, packet):
        if packet.opcode == tftp.OP_ERROR:
            raise TransferFailed("client sent ERROR %d: %s" % (packet.error_code, packet.message))
        if packet.opcode != tftp.OP_DATA:
            reply = tftp.pack_error(tftp.ERR_ILLEGAL_OP, "expected DATA")
            raise TransferFailed("unexpected %s" % KIND[packet.opcode], reply)

    async def _dally(self):
        """After the final ACK: answer a repeated final DATA (our ACK was lost) for a while."""
        deadline = time.monotonic() + self.timeout * (self.settings.tftp_retries + 1)
        final_ack = tftp.pack_ack(self._wire(self.final_block))
        while time.monotonic() < deadline:
            try:
                packet = await self.receive(deadline - time.monotonic())
            except TransferFailed:
                return
            if packet is None:
                return
            if packet.opcode == tftp.OP_DATA:
                self.send("ack", final_ack, block=self.final_block)


class _WriteState:
    def __init__(self):
        self.received = 0  # the last block received in order (absolute)
        self.unacked = 0  # blocks received since the last ACK
        self.retries = 0
        self.gap_reported = False


class TftpListener(asyncio.DatagramProtocol):
    """Port 69 on one device address: each new request starts a session on a fresh port."""

    def __init__(self, device):
        self.device = device
        self.transport = None
        self.active = {}
        self.requests = {"rrq": 0, "wrq": 0}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if self.device.flashing():
            return
        try:
            request = tftp.parse_packet(data)
        except tftp.TftpProtocolError as error:
            self.transport.sendto(tftp.pack_error(tftp.ERR_ILLEGAL_OP, str(error)), addr)
            return
        if request.opcode not in (tftp.OP_RRQ, tftp.OP_WRQ):
            message = "expected RRQ or WRQ on this port"
            self.transport.sendto(tftp.pack_error(tftp.ERR_ILLEGAL_OP, message), addr)
            return
        kind = KIND[request.opcode]
        self.requests[kind] += 1
        fate = self.device.faults.packet_fate(
            "tftp", "in", kind, index=self.requests[kind], filename=request.filename
        )
        key = (addr, request.opcode, request.filename)
        if fate.drop or key in self.active:
            return  # a repeated request: the running session answers it by retransmitting
        self.device.count("tftp_" + kind)
        task = asyncio.ensure_future(Session(self.device, request, addr).run())
        self.active[key] = task
        task.add_done_callback(lambda _task: self._ended(key, _task))

    def _ended(self, key, task):
        self.active.pop(key, None)
        if not task.cancelled() and task.exception():
            error = task.exception()
            LOGGER.error("%s: session crashed: %r", self.device.name, error)

    def close(self):
        for task in list(self.active.values()):
            task.cancel()
