# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IP address assignment (row ip_assignment): DHCPDISCOVER / DHCPREQUEST for one MAC.

The device has no address yet: it sends from 0.0.0.0 port 68 to the limited broadcast
255.255.255.255 port 67, with the BOOTP broadcast flag so the server answers by broadcast.
SO_BINDTODEVICE pins every packet to the named interface.
"""

import ipaddress
import os
import socket
import struct
import time

from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import (
    ClientError,
    row_ports,
)

MAGIC_COOKIE = b"\x63\x82\x53\x63"
BOOTREQUEST, BOOTREPLY = 1, 2
BROADCAST_FLAG = 0x8000
DISCOVER, OFFER, REQUEST, ACK, NAK = 1, 2, 3, 5, 6
MESSAGE_NAMES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK"}
OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME = 1, 3, 6, 12
OPT_NTP, OPT_REQUESTED_IP, OPT_LEASE_TIME, OPT_MESSAGE_TYPE = 42, 50, 51, 53
OPT_SERVER_ID, OPT_PARAMETERS, OPT_MESSAGE, OPT_CLIENT_ID = 54, 55, 56, 61
OPT_PAD, OPT_END = 0, 255
BOOTP_HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
WANTED = bytes([OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_NTP, OPT_LEASE_TIME, OPT_SERVER_ID])
BROADCAST = "255.255.255.255"


def parse_mac(text):
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ClientError("mac %r is not six hex bytes" % text)
    try:
        return bytes(int(part, 16) for part in parts)
    except ValueError:
        raise ClientError("mac %r is not six hex bytes" % text) from None


def _option(code, value):
    return bytes([code, len(value)]) + value


def build(message_type, xid, mac, *, hostname=None, requested=None, server_id=None):
    """A BOOTREQUEST carrying DHCP ``message_type`` from ``mac`` (bytes)."""
    header = BOOTP_HEADER.pack(
        BOOTREQUEST, 1, 6, 0, xid, 0, BROADCAST_FLAG,
        bytes(4), bytes(4), bytes(4), bytes(4), mac + bytes(10), bytes(64), bytes(128),
    )  # fmt: skip
    options = [
        _option(OPT_MESSAGE_TYPE, bytes([message_type])),
        _option(OPT_CLIENT_ID, b"\1" + mac),
    ]
    if hostname:
        options.append(_option(OPT_HOSTNAME, hostname.encode("ascii", "replace")[:63]))
    if requested:
        options.append(_option(OPT_REQUESTED_IP, socket.inet_aton(requested)))
    if server_id:
        options.append(_option(OPT_SERVER_ID, socket.inet_aton(server_id)))
    options.append(_option(OPT_PARAMETERS, WANTED))
    return header + MAGIC_COOKIE + b"".join(options) + bytes([OPT_END])


def parse_options(raw):
    options = {}
    index = 0
    while index < len(raw):
        code = raw[index]
        if code == OPT_END:
            break
        if code == OPT_PAD:
            index += 1
            continue
        if index + 1 >= len(raw):
            break
        length = raw[index + 1]
        options[code] = options.get(code, b"") + raw[index + 2 : index + 2 + length]
        index += 2 + length
    return options


def parse_reply(data, xid, mac):
    """(message type, yiaddr, options) of a reply to us, or None for anything else."""
    if len(data) < BOOTP_HEADER.size + 4:
        return None
    fields = BOOTP_HEADER.unpack_from(data)
    op, reply_xid, yiaddr, chaddr = fields[0], fields[4], fields[8], fields[11]
    if op != BOOTREPLY or reply_xid != xid or chaddr[:6] != mac:
        return None
    if data[BOOTP_HEADER.size : BOOTP_HEADER.size + 4] != MAGIC_COOKIE:
        return None
    options = parse_options(data[BOOTP_HEADER.size + 4 :])
    message_type = options.get(OPT_MESSAGE_TYPE, b"\0")[0]
    return message_type, socket.inet_ntoa(yiaddr), options


def _addresses(raw):
    return [socket.inet_ntoa(raw[index : index + 4]) for index in range(0, len(raw) - 3, 4)]


def describe(options):
    described = {
        "server_id": _addresses(options.get(OPT_SERVER_ID, b""))[:1],
        "subnet_mask": _addresses(options.get(OPT_SUBNET_MASK, b""))[:1],
        "routers": _addresses(options.get(OPT_ROUTER, b"")),
        "dns_servers": _addresses(options.get(OPT_DNS, b"")),
        "ntp_servers": _addresses(options.get(OPT_NTP, b"")),
    }
    for key in ("server_id", "subnet_mask"):
        described[key] = described[key][0] if described[key] else None
    if OPT_LEASE_TIME in options:
        described["lease_time"] = struct.unpack("!I", options[OPT_LEASE_TIME][:4])[0]
    return described


# Linux's IP_PKTINFO (Python's socket module does not name it): sendmsg() with it picks the
# packet's source address while the socket stays bound to 0.0.0.0 for the broadcast replies.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def _pktinfo(source):
    """struct in_pktinfo asking the kernel to send from ``source`` (any interface)."""
    return struct.pack("=i4s4s", 0, socket.inet_aton(source), bytes(4))


class _Exchange:
    def __init__(self, interface, client_port, destination, *, timeout, retries, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.destination = destination
        self.ancillary = [(socket.IPPROTO_IP, IP_PKTINFO, _pktinfo(source))] if source else []
        self.timeout = timeout
        self.retries = retries
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            self.sock.bind(("0.0.0.0", client_port))
        except OSError as error:
            self.sock.close()
            raise ClientError(
                "cannot send DHCP from %s port %d: %s" % (interface, client_port, error)
            ) from None

    def ask(self, packet, xid, mac, wanted):
        """Send ``packet`` (again after each timeout) until a reply of a ``wanted`` type."""
        for _attempt in range(self.retries + 1):
            self._send(packet)
            deadline = time.monotonic() + self.timeout
            while (remaining := deadline - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                try:
                    data = self.sock.recv(4096)
                except socket.timeout:  # TimeoutError from Python 3.10 on, not before
                    break
                reply = parse_reply(data, xid, mac)
                if reply and reply[0] in wanted:
                    return reply
        return None

    def _send(self, packet):
        try:
            self.sock.sendmsg([packet], self.ancillary, 0, self.destination)
        except OSError as error:
            raise ClientError(
                "cannot send DHCP to %s port %d: %s" % (*self.destination, error)
            ) from None

    def close(self):
        self.sock.close()


def lease(
    interface,
    mac,
    *,
    hostname=None,
    client_port=None,
    server_port=None,
    destination=BROADCAST,
    timeout=2.0,
    retries=2,
    source=None,
):
    """DISCOVER, OFFER, REQUEST, ACK; {offered, acked, routers, ntp_servers, ...}.

    A device with no address sends from 0.0.0.0; a host that has addresses sends from one of
    them, which a DHCP server filtering by source (the dhcp role's Kea) refuses unless it is
    the device's own: ``source`` (an address of this host) names it.
    """
    row_client_port, row_server_port = row_ports("ip_assignment")
    client_port = row_client_port if client_port is None else client_port
    server_port = server_port or row_server_port
    mac_bytes = parse_mac(mac)
    xid = int.from_bytes(os.urandom(4), "big")
    exchange = _Exchange(
        interface,
        client_port,
        (destination, server_port),
        timeout=timeout,
        retries=retries,
        source=source,
    )
    try:
        discover = build(DISCOVER, xid, mac_bytes, hostname=hostname)
        offer = exchange.ask(discover, xid, mac_bytes, (OFFER,))
        if offer is None:
            raise ClientError("no DHCPOFFER for %s on %s" % (mac, interface))
        offered, offer_options = offer[1], offer[2]
        server_id = describe(offer_options)["server_id"]
        request = build(
            REQUEST, xid, mac_bytes, hostname=hostname, requested=offered, server_id=server_id
        )
        answer = exchange.ask(request, xid, mac_bytes, (ACK, NAK))
    finally:
        exchange.close()
    if answer is None:
        raise ClientError("no DHCPACK for %s (offered %s) on %s" % (mac, offered, interface))
    if answer[0] == NAK:
        reason = answer[2].get(OPT_MESSAGE, b"").decode("ascii", "replace")
        raise ClientError("DHCPNAK for %s: %s" % (offered, reason or "no reason given"))
    result = {"mac": mac, "interface": interface, "offered": offered, "acked": answer[1]}
    result.update(describe(answer[2]))
    ipaddress.IPv4Address(result["acked"])
    return result
