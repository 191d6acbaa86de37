# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TFTP packets (RFC 1350, 2347, 2348, 2349, 7440): constants, encoder, decoder, errors.

Private: import the public names from ``tftp``. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import struct

OP_RRQ = 1
OP_WRQ = 2
OP_DATA = 3
OP_ACK = 4
OP_ERROR = 5
OP_OACK = 6

ERR_UNDEFINED = 0
ERR_NOT_FOUND = 1
ERR_ACCESS = 2
ERR_DISK_FULL = 3
ERR_ILLEGAL_OP = 4
ERR_UNKNOWN_TID = 5
ERR_EXISTS = 6
ERR_NO_USER = 7
ERR_OPTIONS = 8

ERROR_MESSAGES = {
    ERR_UNDEFINED: "Not defined",
    ERR_NOT_FOUND: "File not found",
    ERR_ACCESS: "Access violation",
    ERR_DISK_FULL: "Disk full or allocation exceeded",
    ERR_ILLEGAL_OP: "Illegal TFTP operation",
    ERR_UNKNOWN_TID: "Unknown transfer ID",
    ERR_EXISTS: "File already exists",
    ERR_NO_USER: "No such user",
    ERR_OPTIONS: "Option negotiation failed",
}

OPCODE_NAMES = {
    OP_RRQ: "RRQ",
    OP_WRQ: "WRQ",
    OP_DATA: "DATA",
    OP_ACK: "ACK",
    OP_ERROR: "ERROR",
    OP_OACK: "OACK",
}

DEFAULT_BLKSIZE = 512  # RFC 1350, and what a peer that ignores options uses
MIN_BLKSIZE = 8  # RFC 2348
MAX_BLKSIZE = 65464  # RFC 2348: 65535 minus IP and UDP headers
MIN_WINDOWSIZE = 1  # RFC 7440
MAX_WINDOWSIZE = 65535
MIN_TIMEOUT = 1  # RFC 2349, whole seconds
MAX_TIMEOUT = 255
MAX_BLOCK = 65535  # block numbers are 16 bits

# Options this implementation understands, with the values the RFCs allow.
OPTION_RANGES = {
    "blksize": (MIN_BLKSIZE, MAX_BLKSIZE),
    "windowsize": (MIN_WINDOWSIZE, MAX_WINDOWSIZE),
    "timeout": (MIN_TIMEOUT, MAX_TIMEOUT),
    "tsize": (0, None),
}

# What a server accepts when it is given no limits: everything the RFCs allow.
DEFAULT_LIMITS = {
    "blksize": MAX_BLKSIZE,
    "windowsize": MAX_WINDOWSIZE,
    "timeout": MAX_TIMEOUT,
    "tsize": True,
}

HEADER = struct.Struct("!HH")  # opcode + block (DATA, ACK) or opcode + error code (ERROR)
OPCODE = struct.Struct("!H")


class TftpError(Exception):
    """Base of every TFTP failure; ``str()`` is a message for a person.

    ``retryable``: whether the same transfer, started again, may succeed (the path or the
    peer broke it), as opposed to a failure that will repeat (a refusal, a local file).
    """

    retryable = False

    def __init__(self, *args, retryable=None):
        super().__init__(*args)
        if retryable is not None:
            self.retryable = retryable


class TftpTimeout(TftpError):
    """The peer stopped answering, or the transfer ran past its total time."""

    retryable = True


class TftpProtocolError(TftpError):
    """A packet that does not follow the protocol (malformed, unexpected, bad option).

    Retryable unless raised with ``retryable=False``: a stray packet mid-transfer may not
    come again, a server's bad OACK will.
    """

    retryable = True


class TftpRemoteError(TftpError):
    """The peer sent an ERROR packet: ``code`` (ERR_*) and its ``message``."""

    def __init__(self, code, message):
        self.code = code
        self.message = message
        name = ERROR_MESSAGES.get(code, "unknown error code")
        super().__init__(
            "peer sent ERROR %d (%s): %s" % (code, name, message or "no message"),
            # the server refused: it will again, except when it lost track of our transfer
            retryable=code == ERR_UNKNOWN_TID,
        )


Packet = collections.namedtuple(
    "Packet",
    [
        "opcode",  # OP_*
        "block",  # DATA, ACK: the 16-bit block number
        "payload",  # DATA: the bytes carried
        "filename",  # RRQ, WRQ
        "mode",  # RRQ, WRQ: lower case ("octet", "netascii", "mail")
        "options",  # RRQ, WRQ, OACK: {lower-case name: value string}, in packet order
        "error_code",  # ERROR
        "message",  # ERROR
    ],
    defaults=(None,) * 7,
)


def _text(value, what):
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        raise TftpProtocolError("%s %r contains a NUL byte" % (what, value))
    return raw + b"\0"


def _option_fields(options):
    fields = []
    for name, value in (options or {}).items():
        fields.append(_text(name, "option name"))
        fields.append(_text(value, "value of option %s" % name))
    return b"".join(fields)


def _check_block(block):
    if not 0 <= block <= MAX_BLOCK:
        raise TftpProtocolError("block number %r is outside 0..%d" % (block, MAX_BLOCK))


def pack_request(opcode, filename, mode="octet", options=None):
    """RRQ or WRQ for ``filename``; ``options`` maps names to values (ints or strings)."""
    if opcode not in (OP_RRQ, OP_WRQ):
        raise TftpProtocolError("a request is RRQ or WRQ, not opcode %r" % (opcode,))
    if not filename:
        raise TftpProtocolError("a request needs a file name")
    return (
        OPCODE.pack(opcode)
        + _text(filename, "file name")
        + _text(mode, "mode")
        + _option_fields(options)
    )


def pack_data(block, payload):
    """DATA ``block`` carrying ``payload`` (bytes-like)."""
    _check_block(block)
    return HEADER.pack(OP_DATA, block) + bytes(payload)


def pack_ack(block):
    """ACK ``block`` (0 acknowledges a WRQ or an OACK)."""
    _check_block(block)
    return HEADER.pack(OP_ACK, block)


def pack_error(code, message=None):
    """ERROR ``code``; the message defaults to the RFC's wording for the code."""
    if message is None:
        message = ERROR_MESSAGES.get(code, "")
    return HEADER.pack(OP_ERROR, code) + _text(message, "error message")


def pack_oack(options):
    """OACK with the accepted ``options`` (RFC 2347)."""
    return OPCODE.pack(OP_OACK) + _option_fields(options)


def _decode(raw):
    return raw.decode("utf-8", "surrogateescape")


def _strings(body, what):
    """Split NUL-terminated strings; the last one must be terminated too."""
    if body and not body.endswith(b"\0"):
        raise TftpProtocolError("%s is not NUL-terminated" % what)
    return body.split(b"\0")[:-1] if body else []


def _parse_options(fields, what):
    if len(fields) % 2:
        raise TftpProtocolError("%s has option %r without a value" % (what, _decode(fields[-1])))
    options = {}
    for index in range(0, len(fields), 2):
        name = _decode(fields[index]).lower()
        if not name:
            raise TftpProtocolError("%s has an empty option name" % what)
        options[name] = _decode(fields[index + 1])
    return options


def _parse_request(opcode, body):
    what = OPCODE_NAMES[opcode]
    fields = _strings(body, what)
    if len(fields) < 2:
        raise TftpProtocolError("%s needs a file name and a mode" % what)
    return Packet(
        opcode,
        filename=_decode(fields[0]),
        mode=_decode(fields[1]).lower(),
        options=_parse_options(fields[2:], what),
    )


def _parse_error(body):
    if len(body) < 2:
        raise TftpProtocolError("ERROR packet is too short for an error code")
    (code,) = OPCODE.unpack_from(body)
    # Several implementations forget the final NUL: take the text up to the first NUL if any.
    message = bytes(body[2:]).split(b"\0", 1)[0].decode("utf-8", "replace")
    return Packet(OP_ERROR, error_code=code, message=message)


def parse_packet(data):
    """Decode one datagram into a ``Packet``; raises ``TftpProtocolError`` if malformed."""
    data = bytes(data)
    if len(data) < 2:
        raise TftpProtocolError("packet of %d byte(s) is too short for an opcode" % len(data))
    (opcode,) = OPCODE.unpack_from(data)
    body = data[2:]
    if opcode in (OP_RRQ, OP_WRQ):
        return _parse_request(opcode, body)
    if opcode in (OP_DATA, OP_ACK):
        if len(body) < 2:
            name = OPCODE_NAMES[opcode]
            raise TftpProtocolError("%s packet is too short for a block number" % name)
        (block,) = OPCODE.unpack_from(body)
        if opcode == OP_DATA:
            return Packet(OP_DATA, block=block, payload=body[2:])
        return Packet(OP_ACK, block=block)
    if opcode == OP_ERROR:
        return _parse_error(body)
    if opcode == OP_OACK:
        return Packet(OP_OACK, options=_parse_options(_strings(body, "OACK"), "OACK"))
    raise TftpProtocolError("unknown opcode %d" % opcode)


def option_int(options, name):
    """The integer value of option ``name``, checked against the RFC's range; None if absent."""
    if name not in options:
        return None
    value = options[name]
    low, high = OPTION_RANGES[name]
    try:
        number = int(str(value).strip(), 10)
    except ValueError:
        raise TftpProtocolError("option %s=%r is not a whole number" % (name, value)) from None
    if number < low or (high is not None and number > high):
        limit = "%d..%d" % (low, high) if high is not None else ">= %d" % low
        raise TftpProtocolError("option %s=%d is outside %s" % (name, number, limit))
    return number


def _accepted(name, number, limit, file_size):
    """The value a server answers for one requested option, or None to leave it out."""
    if name == "tsize":
        if not limit:
            return None
        if file_size is not None:
            return file_size
        return number or None  # a WRQ's size is echoed; a RRQ's 0 needs the real size
    if name == "timeout":
        return number if number <= limit else None  # RFC 2349: accept as asked or not at all
    return min(number, limit)  # blksize, windowsize: the server may lower them


def negotiate_options(requested, limits=None, file_size=None):
    """Server side of RFC 2347: the options to put in the OACK, as {name: int}.

    ``requested`` is a request's ``options``. ``limits`` maps an option name to the largest
    value the server takes (``blksize``, ``windowsize``, ``timeout``) or to a bool
    (``tsize``); an option missing from ``limits`` is not acknowledged. ``None`` means
    ``DEFAULT_LIMITS`` (everything the RFCs allow). ``file_size`` is the size to report for
    a RRQ's ``tsize``; for a WRQ leave it None and the client's value is echoed.
    Unknown options and values outside the RFCs' ranges are left out (RFC 2347: the server
    omits what it does not accept). An empty result means: answer without an OACK.
    """
    limits = DEFAULT_LIMITS if limits is None else limits
    accepted = {}
    for raw_name, value in requested.items():
        name = raw_name.lower()
        if name not in OPTION_RANGES or name not in limits:
            continue
        try:
            number = option_int({name: value}, name)
        except TftpProtocolError:
            continue
        answer = _accepted(name, number, limits[name], file_size)
        if answer is not None:
            accepted[name] = answer
    return accepted
