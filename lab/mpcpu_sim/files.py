"""The files a simulated MPCPU offers over TFTP (row time_firmware), by name.

ASSUMED names and formats (no public document gives them; docs/simulator.md):
  ``mpcpu_time.txt``   read: the device clock as ``YYYY-MM-DDTHH:MM:SS\\n`` (UTC);
                       write: the same format sets the device clock.
  ``firmware.bin``     write only: the firmware slot (a complete transfer replaces it).
  ``firmware.version`` read only: ``version=<v>\\nsha256=<hex>\\nsize=<n>\\n`` of the slot.
Anything else is "file not found"; names that could walk a path are refused.
"""

import hashlib

from mpcpu_sim.device import HEADER_LIMIT, firmware_version
from mpcpu_sim.table import tftp

BAD_TIME = "bad time format"


class Refusal(Exception):
    """A request or transfer the device refuses with a TFTP ERROR ``code``."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def check_name(name):
    parts = name.replace("\\", "/").split("/")
    if not name or "/" in name or "\\" in name or ".." in parts or name.startswith("."):
        raise Refusal(tftp.ERR_ACCESS, "file name %r not allowed" % name)


class TimeSink:
    """A write of the time file: parsed when complete; the clock changes only if it is valid."""

    limit = 256

    def __init__(self, clock):
        self.clock = clock
        self.buffer = bytearray()

    def write(self, chunk):
        if len(self.buffer) + len(chunk) > self.limit:
            raise Refusal(tftp.ERR_UNDEFINED, BAD_TIME)
        self.buffer += chunk

    def finish(self):
        try:
            self.clock.set_from_text(bytes(self.buffer))
        except (ValueError, UnicodeError):
            raise Refusal(tftp.ERR_UNDEFINED, BAD_TIME) from None
        return "clock set to %s" % self.clock.iso()


class FirmwareSink:
    """A write of the firmware slot: digest and size as it arrives; committed when complete."""

    def __init__(self, slot, limit, on_commit=None):
        self.slot = slot
        self.on_commit = on_commit
        self.limit = limit
        self.digest = hashlib.sha256()
        self.size = 0
        self.header = b""

    def write(self, chunk):
        if self.size + len(chunk) > self.limit:
            raise Refusal(tftp.ERR_DISK_FULL, "firmware image larger than %d bytes" % self.limit)
        if len(self.header) < HEADER_LIMIT:
            self.header += bytes(chunk[: HEADER_LIMIT - len(self.header)])
        self.digest.update(chunk)
        self.size += len(chunk)

    def finish(self):
        self.slot.commit(firmware_version(self.header), self.digest.hexdigest(), self.size)
        if self.on_commit:
            self.on_commit()
        return "firmware slot holds version %s (%d bytes)" % (self.slot.version, self.size)


def open_read(device, name):
    """The bytes a RRQ for ``name`` returns, or Refusal."""
    check_name(name)
    settings = device.settings
    if name == settings.time_file:
        return device.clock.text().encode("ascii")
    if name == settings.firmware_version_file:
        return device.firmware.version_text().encode("ascii")
    if name == settings.firmware_file:
        raise Refusal(tftp.ERR_ACCESS, "the firmware slot is write-only")
    raise Refusal(tftp.ERR_NOT_FOUND, "file not found")


def open_write(device, name, declared_size=None):
    """A sink for a WRQ of ``name`` (``declared_size``: the client's tsize), or Refusal."""
    check_name(name)
    settings = device.settings
    if name == settings.time_file:
        if declared_size is not None and declared_size > TimeSink.limit:
            raise Refusal(tftp.ERR_UNDEFINED, BAD_TIME)
        return TimeSink(device.clock)
    if name == settings.firmware_file:
        if declared_size is not None and declared_size > settings.firmware_limit:
            limit = settings.firmware_limit
            raise Refusal(tftp.ERR_DISK_FULL, "firmware image larger than %d bytes" % limit)
        return FirmwareSink(device.firmware, settings.firmware_limit, device.begin_flash)
    if name == settings.firmware_version_file:
        raise Refusal(tftp.ERR_ACCESS, "%s is read-only" % name)
    raise Refusal(tftp.ERR_NOT_FOUND, "file not found")
