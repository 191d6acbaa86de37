# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One SNTP (RFC 4330) query: the offset of a server's clock from the local one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct
import time

from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

PACKET_SIZE = 48
NTP_TO_UNIX = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
FRACTION = 2**32
VERSION = 4
MODE_CLIENT = 3
MODE_SERVER = 4


def to_ntp(seconds):
    """Unix seconds as an NTP 64-bit timestamp (bytes)."""
    whole = int(seconds)
    return struct.pack("!II", (whole + NTP_TO_UNIX) % FRACTION, int((seconds - whole) * FRACTION))


def from_ntp(data):
    """An NTP 64-bit timestamp (bytes) as Unix seconds."""
    whole, fraction = struct.unpack("!II", data)
    return whole - NTP_TO_UNIX + fraction / FRACTION


def request(transmit_seconds):
    """A client request whose transmit timestamp the server echoes as the originate one."""
    return struct.pack("!B47x", VERSION << 3 | MODE_CLIENT)[:40] + to_ntp(transmit_seconds)


def offset_from_reply(data, sent_stamp, sent_at, received_at, server):
    """(offset, delay) in seconds from a server reply, or MpcpuError saying why it is unusable."""
    if len(data) < PACKET_SIZE:
        raise MpcpuError("ntp_server: %s sent %d bytes, not an NTP reply" % (server, len(data)))
    mode = data[0] & 7
    stratum = data[1]
    if mode != MODE_SERVER:
        raise MpcpuError("ntp_server: %s answered in NTP mode %d, not server mode" % (server, mode))
    if stratum == 0:
        code = data[12:16].decode("ascii", "replace")
        raise MpcpuError("ntp_server: %s sent kiss-o'-death %r" % (server, code))
    if data[24:32] != sent_stamp:
        raise MpcpuError("ntp_server: %s answered a request we did not send" % server)
    server_received = from_ntp(data[32:40])
    server_sent = from_ntp(data[40:48])
    offset = ((server_received - sent_at) + (server_sent - received_at)) / 2
    delay = (received_at - sent_at) - (server_sent - server_received)
    return offset, delay


def query(server, port, timeout=2.0, clock=time.time):
    """Ask ``server`` once; return (offset, delay) where server time = local time + offset."""
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.connect((server, port))
        sent_at = clock()
        packet = request(sent_at)
        sock.send(packet)
        data = sock.recv(512)
        received_at = clock()
    except OSError as error:
        raise MpcpuError(
            "ntp_server: no answer from %s port %d: %s" % (server, port, error)
        ) from None
    finally:
        sock.close()
    return offset_from_reply(data, packet[40:48], sent_at, received_at, server)
