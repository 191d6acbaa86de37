"""Run a DHCP client and report what crossed the wire, not what the client printed.

Usage: python3 dhcp_capture.py SERVER -- CLIENT ARGV...

A packet socket sees every frame in and out of every link of this host from before the client
starts until a second after it exits. Printed as JSON: the client's rc, output, the DHCP
requests it sent to SERVER or broadcast (port 67, counted by transaction id) and the DHCP
answers with one of those transaction ids (from port 67: SERVER's, or a relay's on a relayed
network). "No answer" is
then judged from the wire: requests > 0 and answers == 0; a client that exits without
sending anything cannot pass for one that was ignored.
"""

import ipaddress
import json
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
UDP = 17
SERVER_PORT = 67
BROADCAST = "255.255.255.255"
DRAIN_SECONDS = 1.0


def _udp(frame):
    """(source, destination, source port, destination port, payload) of an IPv4 UDP frame."""
    if len(frame) < 14 + 20 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[14:]
    header = (ip[0] & 0x0F) * 4
    if ip[9] != UDP or len(ip) < header + 8:
        return None
    source, destination = (
        str(ipaddress.IPv4Address(ip[offset : offset + 4])) for offset in (12, 16)
    )
    sport, dport = struct.unpack("!HH", ip[header : header + 4])
    return source, destination, sport, dport, ip[header + 8 :]


def _xid(payload):
    return payload[4:8].hex() if len(payload) >= 8 else None


def _read(sock, until, frames):
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            frames.append(sock.recv(65535))
        except socket.timeout:
            return


def main(argv):
    server, separator, client = argv[1], argv[2], argv[3:]
    if separator != "--" or not client:
        sys.exit(__doc__)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    frames = []
    process = subprocess.Popen(client, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while process.poll() is None:
        _read(sock, time.monotonic() + 0.2, frames)
    _read(sock, time.monotonic() + DRAIN_SECONDS, frames)
    stdout, stderr = process.communicate()
    sent, answers = set(), []
    for frame in frames:
        udp = _udp(frame)
        if (
            udp
            and udp[1] in (server, BROADCAST)
            and udp[3] == SERVER_PORT
            and udp[2] != SERVER_PORT
        ):
            sent.add(_xid(udp[4]))
    for frame in frames:
        udp = _udp(frame)
        if udp and udp[2] == SERVER_PORT and udp[3] != SERVER_PORT and _xid(udp[4]) in sent:
            answers.append(_xid(udp[4]))
    print(
        json.dumps(
            {
                "rc": process.returncode,
                "stdout": stdout,
                "stderr": stderr,
                "requests": len(sent),
                "answers": len(answers),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv)
