# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Activity records into the systemd journal: one entry per record, with structured fields.

The collector sends each record as one datagram in journald's native protocol to
``/run/systemd/journal/socket`` (systemd's ``systemd.journal-fields(7)`` and the protocol
described at systemd.io/JOURNAL_NATIVE_PROTOCOL): standard library only, no python-systemd.
journald adds the trusted fields (``_SYSTEMD_UNIT``, ``_PID``, the receive time), by which a
reader tells the collector's entries from anyone else's.

Fields of an entry (besides the trusted ones):

- ``MESSAGE``: the record as the device sent it, without its line end (the line the monthly
  file holds);
- ``SYSLOG_IDENTIFIER`` ``mpcpu-activity`` and ``MESSAGE_ID`` (fixed, ``ACTIVITY_MESSAGE_ID``);
- ``PRIORITY`` 6 (informational);
- ``MPCPU_NAME`` and ``MPCPU_ADDRESS``: the MPCPU's inventory name and address;
- ``MPCPU_SEQ``, ``MPCPU_RECORD_TIME`` (the record's own time, as the device wrote it),
  ``MPCPU_RECORD_DEVICE`` (the device name in the record) and ``MPCPU_EVENT`` (the rest): for
  a record in the documented form ``<seq> <YYYY-MM-DDTHH:MM:SS> <device-name> <event>``.
"""

import logging
import re
import socket
import struct

JOURNAL_SOCKET = "/run/systemd/journal/socket"
SYSLOG_IDENTIFIER = "mpcpu-activity"
ACTIVITY_MESSAGE_ID = "6d2f3c1a8e4b4f0e9a7c5b3d1e2f4a6c"
PRIORITY_INFO = 6
SEND_TIMEOUT = 10.0

FIELD_NAME = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,63}$")
RECORD = re.compile(
    rb"^(?P<seq>[0-9]{1,18})[ \t]+(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"
    rb"[ \t]+(?P<device>\S+)(?:[ \t]+(?P<event>.*))?$"
)
LOGGER = logging.getLogger("mpcpu-log-collector")


def record_fields(line, name, address):
    """The journal fields of one record (bytes, with or without its line end) of MPCPU
    ``name`` at ``address``, in a fixed order."""
    text = line.rstrip(b"\r\n")
    fields = [
        ("MESSAGE", text),
        ("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER),
        ("MESSAGE_ID", ACTIVITY_MESSAGE_ID),
        ("PRIORITY", str(PRIORITY_INFO)),
        ("MPCPU_NAME", name),
        ("MPCPU_ADDRESS", address),
    ]
    match = RECORD.match(text)
    if match:
        fields += [
            ("MPCPU_SEQ", match.group("seq")),
            ("MPCPU_RECORD_TIME", match.group("time")),
            ("MPCPU_RECORD_DEVICE", match.group("device")),
            ("MPCPU_EVENT", match.group("event") or b""),
        ]
    return fields


def _bytes(value):
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def encode_entry(fields):
    """``fields`` ((name, value) pairs) as one datagram of journald's native protocol: a value
    with a newline in it goes length-prefixed (64-bit little endian), any other as NAME=value."""
    parts = []
    for name, value in fields:
        if not FIELD_NAME.match(name):
            raise ValueError("%r is not a journal field name" % (name,))
        data = _bytes(value)
        if b"\n" in data:
            parts.append(b"%s\n%s%s\n" % (name.encode(), struct.pack("<Q", len(data)), data))
        else:
            parts.append(b"%s=%s\n" % (name.encode(), data))
    return b"".join(parts)


def decode_entry(datagram):
    """The (name, value) pairs of a native-protocol datagram (the inverse of encode_entry)."""
    fields, rest = [], datagram
    while rest:
        head, newline, tail = rest.partition(b"\n")
        if not newline:
            raise ValueError("a field without its line end")
        if b"=" in head:
            name, _equals, value = head.partition(b"=")
            rest = tail
        else:
            name, (size,) = head, struct.unpack("<Q", tail[:8])
            value, rest = tail[8 : 8 + size], tail[8 + size + 1 :]
        fields.append((name.decode("ascii"), value))
    return fields


class JournalSink:
    """Sends one MPCPU's records to the journal, one entry each."""

    def __init__(self, name, address, path=None):
        self.name = name
        self.address = address
        self.path = path or JOURNAL_SOCKET
        self.failed = 0
        self._socket = None

    def _connected(self):
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # journald reads its socket at its own pace: wait for room rather than drop.
            self._socket.settimeout(SEND_TIMEOUT)
        return self._socket

    def send(self, lines):
        """One entry per line; returns how many the journal did not take (logged, not raised:
        the monthly files still get every record)."""
        failed, last_error = 0, None
        for line in lines:
            datagram = encode_entry(record_fields(line, self.name, self.address))
            try:
                self._connected().sendto(datagram, self.path)
            except OSError as error:
                failed, last_error = failed + 1, error
        if failed:
            self.failed += failed
            LOGGER.warning(
                "%s: %d record(s) did not reach the journal (%s; %d in all)",
                self.name,
                failed,
                last_error,
                self.failed,
            )
        return failed

    def close(self):
        if self._socket is not None:
            self._socket.close()
        self._socket = None
