"""One simulated MPCPU: its clock, firmware slot, activity log, faults and counters."""

import asyncio
import collections
import datetime
import hashlib
import logging
import time

from mpcpu_sim.activity_log import ActivityLog
from mpcpu_sim.faults import FaultPlan

LOGGER = logging.getLogger("mpcpu_sim.pair")
UTC = datetime.timezone.utc
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
FIRMWARE_MAGIC = b"MPCPU-FW "
HEADER_LIMIT = 256  # the version line must end within this many bytes
TIME_TEXT_LIMIT = 256


class Clock:
    """The device's calendar clock: the host clock plus an offset; the host clock is untouched."""

    def __init__(self, offset, time_format):
        self.offset = float(offset)
        self.time_format = time_format

    def now(self):
        return time.time() + self.offset

    def text(self):
        moment = datetime.datetime.fromtimestamp(int(self.now()), UTC)
        return moment.strftime(self.time_format) + "\n"

    def set_from_text(self, raw):
        """Set the clock from the bytes of a written time file; ValueError if malformed."""
        if len(raw) > TIME_TEXT_LIMIT:
            raise ValueError("time file longer than %d bytes" % TIME_TEXT_LIMIT)
        text = raw.decode("ascii")
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        moment = datetime.datetime.strptime(text, self.time_format)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # The device keeps counting from the written second, as if set at this instant.
        self.offset = moment.timestamp() - time.time()

    def iso(self):
        return datetime.datetime.fromtimestamp(int(self.now()), UTC).strftime("%Y-%m-%dT%H:%M:%S")


def firmware_version(header):
    """The version named by an image's first line ``MPCPU-FW <version>``, else ``unknown``."""
    line, newline, _rest = header.partition(b"\n")
    if not newline or not line.startswith(FIRMWARE_MAGIC):
        return "unknown"
    version = line[len(FIRMWARE_MAGIC) :].strip().decode("ascii", "replace")
    return version if version and " " not in version else "unknown"


class FirmwareSlot:
    """What the device would boot: the last completely received image (its digest, not bytes)."""

    def __init__(self, version):
        self.version = version
        self.sha256 = EMPTY_SHA256
        self.size = 0
        self.uploads = 0

    def commit(self, version, sha256, size):
        self.version, self.sha256, self.size = version, sha256, size
        self.uploads += 1

    def version_text(self):
        return "version=%s\nsha256=%s\nsize=%d\n" % (self.version, self.sha256, self.size)

    def as_dict(self):
        return {"version": self.version, "sha256": self.sha256, "size": self.size}


class Device:
    def __init__(self, settings, on_change=None):
        self.settings = settings
        self.name = settings.name
        self.address = settings.address
        self.clock = Clock(settings.clock_offset, settings.time_format)
        self.firmware = FirmwareSlot(settings.firmware_version)
        self.log = ActivityLog(settings.name, self.clock, settings.log_rate, settings.log_buffer)
        self.faults = FaultPlan(settings.faults, settings.name, settings.address)
        self.counters = collections.Counter()
        self.last_errors = collections.deque(maxlen=5)
        self.ports = {}
        self.started = time.monotonic()
        self._on_change = on_change
        self.mate = None  # the other Device of its pair (linked by the simulator)
        self.selected = settings.role == "selected"
        self.flash_until = 0.0
        self.flashes = []  # [begin, end] wall-clock seconds of each flash

    def flashing(self):
        return time.monotonic() < self.flash_until

    def begin_flash(self):
        """A complete image restarts the CPU: silent for ``flash_seconds``; a selected CPU
        hands the matrix to its mate (switch-over) if the mate is serving."""
        seconds = self.settings.flash_seconds
        if seconds <= 0:
            return
        self.flash_until = time.monotonic() + seconds
        begin = time.time()
        self.flashes.append([round(begin, 6), round(begin + seconds, 6)])
        LOGGER.info("%s: flash begins at=%.6f for %.3f s", self.name, begin, seconds)
        if self.selected and self.mate is not None and not self.mate.flashing():
            self.selected, self.mate.selected = False, True
            LOGGER.info("%s: switch-over: %s is selected", self.name, self.mate.name)
        asyncio.get_running_loop().call_later(seconds, self._end_flash)
        self.changed()

    def _end_flash(self):
        LOGGER.info("%s: flash ends at=%.6f", self.name, time.time())
        self.changed()

    def uptime(self):
        return int(time.monotonic() - self.started)

    def changed(self):
        if self._on_change:
            self._on_change()

    def count(self, counter, error=None):
        self.counters[counter] += 1
        if error:
            self.last_errors.append(error)
        self.changed()

    def status(self):
        return {
            "name": self.name,
            "address": self.address,
            "ports": dict(self.ports),
            "clock": self.clock.iso(),
            "clock_offset": round(self.clock.offset, 3),
            "uptime": self.uptime(),
            "firmware": self.firmware.as_dict(),
            "log": self.log.status(),
            "counters": dict(self.counters),
            "faults_injected": self.faults.injected,
            "last_errors": list(self.last_errors),
            "mate": self.mate.name if self.mate else None,
            "selected": self.selected if self.mate else None,
            "flashes": [list(flash) for flash in self.flashes],
        }
