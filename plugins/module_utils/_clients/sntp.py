# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NTP (row ntp): one SNTP (RFC 4330) query from the device address, source port 123."""

import socket
import struct
import time

from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import (
    ClientError,
    row_ports,
)

NTP_TO_UNIX = 2208988800
FRACTION = 2**32
MODE_CLIENT, MODE_SERVER = 3, 4
VERSION = 4
LEAP_UNSYNCHRONISED = 3


def to_ntp(seconds):
    whole = int(seconds)
    return struct.pack("!II", (whole + NTP_TO_UNIX) % FRACTION, int((seconds - whole) * FRACTION))


def from_ntp(raw):
    whole, fraction = struct.unpack("!II", raw)
    return whole - NTP_TO_UNIX + fraction / FRACTION


def request_packet(transmit):
    return bytes([VERSION << 3 | MODE_CLIENT]) + bytes(39) + to_ntp(transmit)


def _refid(data, stratum):
    raw = data[12:16]
    if stratum <= 1:
        return raw.rstrip(b"\0").decode("ascii", "replace")
    return socket.inet_ntoa(raw)


def interpret(data, sent_stamp, sent_at, received_at):
    """{offset, delay, stratum, ...} from a reply, or ClientError saying why it is unusable."""
    if len(data) < 48:
        raise ClientError("reply of %d bytes is not an NTP packet" % len(data))
    leap, mode, stratum = data[0] >> 6, data[0] & 7, data[1]
    if mode != MODE_SERVER:
        raise ClientError("reply in NTP mode %d, not server mode" % mode)
    if stratum == 0:
        raise ClientError("kiss-o'-death %r" % data[12:16].decode("ascii", "replace"))
    if leap == LEAP_UNSYNCHRONISED:
        raise ClientError("server clock not synchronised (leap indicator 3)")
    if data[24:32] != sent_stamp:
        raise ClientError("reply does not answer our request (originate timestamp)")
    server_received, server_sent = from_ntp(data[32:40]), from_ntp(data[40:48])
    return {
        "offset": round(((server_received - sent_at) + (server_sent - received_at)) / 2, 6),
        "delay": round((received_at - sent_at) - (server_sent - server_received), 6),
        "stratum": stratum,
        "refid": _refid(data, stratum),
        "leap": leap,
        "server_time": round(server_sent, 6),
    }


def query(source, server, *, port=None, source_port=None, timeout=2.0, clock=time.time):
    """One query to ``server``; {offset, delay, stratum, ...} where server = local + offset.

    ``source`` is the address to send from (an MPCPU's, with the table's source port 123), or
    None to let the kernel choose, as a management host asking a reference server does.
    """
    row_source_port, row_port = row_ports("ntp")
    port = port or row_port
    if source is not None and source_port is None:
        source_port = row_source_port
    sock = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if source is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((source, source_port))
        sock.connect((server, port))
        sock.settimeout(timeout)
        sent_at = clock()
        packet = request_packet(sent_at)
        sock.send(packet)
        data = sock.recv(1024)
        received_at = clock()
    except socket.timeout:
        message = "no NTP reply from %s port %d within %g s" % (server, port, timeout)
        raise ClientError(message) from None
    except OSError as error:
        raise ClientError("NTP query to %s port %d failed: %s" % (server, port, error)) from None
    finally:
        sock.close()
    try:
        result = interpret(data, packet[40:48], sent_at, received_at)
    except ClientError as error:
        raise ClientError("NTP server %s port %d: %s" % (server, port, error)) from None
    result["server"] = "%s:%d" % (server, port)
    if source is not None:
        result["source"] = "%s:%d" % (source, source_port)
    return result
