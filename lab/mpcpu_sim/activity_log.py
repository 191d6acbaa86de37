"""Activity logging (TCP, MPCPU side listens): a per-device line log and its stream server.

ASSUMED protocol (no public document gives it; docs/simulator.md): the collector connects
and may send one request line ``LOG <next_seq>`` within ``log_request_wait`` seconds. The
device answers with lines ``<seq> <YYYY-MM-DDTHH:MM:SS> <device-name> <event text>\\r\\n``:
first the buffered lines with ``seq >= next_seq``, then live lines as they happen. Without a
request the stream starts with the first line logged after the connection was accepted.
"""

import asyncio
import collections
import contextlib
import datetime
import itertools
import logging
import math
import re
import time

LOGGER = logging.getLogger("mpcpu_sim.activity_log")
UTC = datetime.timezone.utc
DEFAULT_REQUEST = "LOG {seq}\r\n"
SEQ = "{seq}"
FOREVER = 3600.0

_EVENTS = (
    "CAMERA {camera} CALLED TO MONITOR {monitor} BY KEYBOARD {keyboard}",
    "ALARM {alarm} ACTIVATED",
    "ALARM {alarm} ACKNOWLEDGED BY KEYBOARD {keyboard}",
    "ALARM {alarm} CLEARED",
    "KEYBOARD {keyboard} LOGIN OPERATOR {operator}",
    "PTZ CAMERA {camera} PRESET {preset} BY KEYBOARD {keyboard}",
    "VIDEO LOSS CAMERA {camera}",
    "VIDEO RESTORED CAMERA {camera}",
    "KEYBOARD {keyboard} LOGOUT",
)


def event_text(seq):
    """A plausible, deterministic event for line ``seq``."""
    numbers = {
        "camera": 1 + seq * 7 % 64,
        "monitor": 1 + seq * 3 % 16,
        "keyboard": 1 + seq % 8,
        "alarm": 1 + seq * 5 % 32,
        "operator": 1 + seq % 12,
        "preset": 1 + seq * 11 % 20,
    }
    return _EVENTS[seq % len(_EVENTS)].format(**numbers)


class ActivityLog:
    """Lines numbered 1, 2, ... at ``rate`` per second, the last ``capacity`` kept for replay.

    Lines are made when someone looks (a collector, the status file), with the timestamps
    they would have had: a device nobody reads from costs nothing.
    """

    def __init__(self, device_name, clock, rate, capacity):
        self.device_name = device_name
        self.clock = clock
        self.rate = float(rate)
        self.lines = collections.deque(maxlen=max(1, int(capacity)))
        self.last_seq = 0
        self.started = time.monotonic()
        self.collectors = 0
        self.connections = 0

    def _due_at(self, seq):
        return self.started + (seq - 1) / self.rate

    def _due_count(self, now):
        if self.rate <= 0:
            return 0
        return math.floor((now - self.started) * self.rate) + 1

    def catch_up(self):
        now = time.monotonic()
        due = self._due_count(now)
        if due <= self.last_seq:
            return
        first = max(self.last_seq + 1, due - self.lines.maxlen + 1)
        device_now = self.clock.now()
        for seq in range(first, due + 1):
            stamp = device_now - (now - self._due_at(seq))
            self.lines.append((seq, self._render(seq, stamp)))
        self.last_seq = due

    def _render(self, seq, stamp):
        moment = datetime.datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        text = "%d %s %s %s\r\n" % (seq, moment, self.device_name, event_text(seq))
        return text.encode("ascii")

    def first_seq(self):
        return self.lines[0][0] if self.lines else self.last_seq + 1

    def since(self, seq):
        """Buffered (seq, line bytes) with a sequence number >= ``seq``, oldest first."""
        self.catch_up()
        skip = max(0, seq - self.first_seq())
        return list(itertools.islice(self.lines, skip, None))

    def seconds_until(self, seq):
        """How long until line ``seq`` exists (0 if it does); None if it never will."""
        if seq <= self.last_seq:
            return 0.0
        if self.rate <= 0:
            return None
        return max(0.0, self._due_at(seq) - time.monotonic())

    def status(self):
        self.catch_up()
        return {
            "first_seq": self.first_seq(),
            "last_seq": self.last_seq,
            "rate": self.rate,
            "collectors": self.collectors,
            "connections": self.connections,
        }


class BadRequest(Exception):
    pass


def request_pattern(template=DEFAULT_REQUEST):
    """The request lines a device with the request ``template`` understands: its text (any
    case, spaces before the end of line ignored), ``{seq}`` a number that may be left out."""
    before, has_seq, after = template.strip("\r\n").partition(SEQ)
    head = re.escape(before.rstrip(" ").encode("utf-8"))
    gap = b" +" if before.endswith(" ") else b""
    seq = b"(?:" + gap + rb"(\d{1,18}))?" if has_seq else b"()"
    tail = re.escape(after.encode("utf-8"))
    return re.compile(b"^" + head + seq + tail + rb" *\r?\n?$", re.IGNORECASE)


def expected_request(template=DEFAULT_REQUEST):
    return template.strip("\r\n").replace(SEQ, "<next_seq>")


async def read_request(reader, wait, template=DEFAULT_REQUEST):
    """The collector's request (``LOG n`` by default): n, None (no request in time, or none
    numbered: live), or BadRequest."""
    try:
        raw = await asyncio.wait_for(reader.readline(), wait)
    except TimeoutError:
        return None
    except (ValueError, asyncio.LimitOverrunError):
        raise BadRequest("request line too long") from None
    if not raw.strip():
        if raw:
            return None  # an empty line asks for live lines, like no line at all
        raise ConnectionResetError("collector closed before asking")
    match = request_pattern(template).match(raw)
    if not match:
        raise BadRequest("expected %r, got %r" % (expected_request(template), raw[:60]))
    return max(1, int(match.group(1))) if match.group(1) else None


async def _stream(log, writer, next_seq):
    while True:
        for seq, line in log.since(next_seq):
            writer.write(line)
            next_seq = seq + 1
        await writer.drain()
        wait = log.seconds_until(next_seq)
        await asyncio.sleep(FOREVER if wait is None else wait)


async def _until_closed(reader):
    while await reader.read(4096):
        pass


def collector_handler(device, running):
    """The asyncio.start_server callback serving one device's activity log.

    Each connection's task is kept in the set ``running`` while it lasts, so a stop can
    cancel it.
    """

    async def handle(reader, writer):
        task = asyncio.current_task()
        running.add(task)
        try:
            await _serve_collector(device, reader, writer)
        finally:
            running.discard(task)

    return handle


async def _serve_collector(device, reader, writer):
    log = device.log
    peer = writer.get_extra_info("peername")
    log.catch_up()
    live_from = log.last_seq + 1
    log.connections += 1
    try:
        requested = await read_request(
            reader, device.settings.log_request_wait, device.settings.log_request
        )
    except BadRequest as error:
        LOGGER.warning("%s: collector %s: %s", device.name, peer, error)
        expected = expected_request(device.settings.log_request)
        writer.write(b"ERROR expected %s\r\n" % expected.encode("utf-8", "replace"))
        await _close(writer)
        return
    except ConnectionError:
        await _close(writer)
        return
    next_seq = live_from if requested is None else requested
    LOGGER.info("%s: collector %s streams from line %d", device.name, peer, next_seq)
    log.collectors += 1
    device.changed()
    try:
        await _stream_until_closed(log, reader, writer, next_seq)
    finally:
        log.collectors -= 1
        device.changed()
        await _close(writer)
        LOGGER.info("%s: collector %s left", device.name, peer)


async def _stream_until_closed(log, reader, writer, next_seq):
    tasks = [
        asyncio.ensure_future(_stream(log, writer, next_seq)),
        asyncio.ensure_future(_until_closed(reader)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _close(writer):
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
