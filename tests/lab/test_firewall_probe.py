"""Packet probes for the firewall lab tests, and their own loopback tests.

Run inside the lab hosts (standard library only; the checkout is mounted at /opt/megapower):

    python3 /opt/megapower/tests/lab/test_firewall_probe.py COMMAND ...

    serve-udp PORT --log FILE [--replies N] [--offer-to IP:PORT]   answer (and log) datagrams
    serve-tcp PORT --log FILE [--lines N]          accept, log the peer, send N lines, close
    udp-ask HOST PORT [--sport P]                  one request; prints the replies (JSON)
    tcp-ask HOST PORT                              connect and read; prints what came (JSON)
    dhcp-broadcast IFACE SPORT DPORT               a frame from 0.0.0.0 to 255.255.255.255
    scan-tcp HOST [--ports A-B,C]                  every TCP port: open, closed or no answer
    listen-udp-all --seconds S --out FILE --ready FILE [--ipv6]   bind every free UDP port, log
    send-udp-all HOST [--sport P] [--ports A-B,C]  one datagram to every UDP port

HOST may be IPv4 or IPv6, link-local with its interface (``fe80::1%eth0``).

A port scan through a firewall that drops proves little when nothing listens, so the TCP scan
sorts ports by what came back: a SYN that reached the host gets an answer (SYN-ACK: open,
RST: closed); a dropped one gets none. The UDP check binds every free port on the target and
records which datagrams arrived. A SYN answered by an ICMP error (no route, no neighbour,
prohibited) did not reach a listener either: it counts as no answer. The loopback tests below
show both tell the cases apart.
"""

import argparse
import contextlib
import errno
import json
import os
import resource
import select
import socket
import struct
import sys
import threading
import time

ALL_PORTS = range(1, 65536)
PACE_EVERY = 256  # packets between short pauses: a veth backlog holds 1000 packets
PACE_SECONDS = 0.005
SCAN_BATCH = 15000  # sockets at once; lab hosts allow 20000 open files
SCAN_WAIT = 2.5  # seconds for answers; the kernel repeats an unanswered SYN after 1 s
UDP_CHUNK = 16384  # ports per listening process


def _raise_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _pace(index):
    if index % PACE_EVERY == PACE_EVERY - 1:
        time.sleep(PACE_SECONDS)


def _address(host, port, kind):
    """(family, socket address) of ``host``; getaddrinfo reads an IPv6 scope (``%eth0``)."""
    family, _type, _proto, _name, sockaddr = socket.getaddrinfo(host, port, type=kind)[0]
    return family, sockaddr


def _with_port(sockaddr, port):
    return (sockaddr[0], port) + tuple(sockaddr[2:])


def _ports(text):
    """'1-1024,5000' as a list of ports; None for all of them."""
    if not text:
        return ALL_PORTS
    ports = []
    for part in text.split(","):
        first, _dash, last = part.partition("-")
        ports += range(int(first), int(last or first) + 1)
    return ports


def _log(path, record):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


# --- servers -----------------------------------------------------------------------------------


def _bound(kind, port, dual):
    """A socket bound to ``port`` on every IPv4 address, or with ``dual`` on IPv4 and IPv6."""
    if not dual:
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        return sock
    sock = socket.socket(socket.AF_INET6, kind)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::", port))
    return sock


def serve_udp(port, log, replies=1, offer_to=None, dual=False):
    """Answer each datagram ``replies`` times; a broadcast from 0.0.0.0 is answered as a DHCP
    server would, to the offered address (``offer_to``)."""
    sock = _bound(socket.SOCK_DGRAM, port, dual)
    if not dual:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    while True:
        data, peer = sock.recvfrom(4096)
        _log(log, {"peer": list(peer), "data": data.decode(errors="replace")})
        target = peer
        if len(peer) == 2 and peer[0] == "0.0.0.0" and offer_to:
            host, _colon, target_port = offer_to.partition(":")
            target = (host, int(target_port))
        for number in range(replies):
            sock.sendto(b"reply %d to %s" % (number, data[:40]), target)


def serve_tcp(port, log, lines=3, dual=False):
    server = _bound(socket.SOCK_STREAM, port, dual)
    server.listen(16)
    while True:
        conn, peer = server.accept()
        with conn:
            _log(log, {"peer": list(peer)})
            for number in range(lines):
                conn.sendall(b"line %d from port %d\n" % (number, port))


def listen_protocol(protocol, seconds, out, ready, *, group=None, interface_address=None):
    """The source addresses of every IP packet of ``protocol`` this host received in
    ``seconds`` (a raw socket sees a packet after the input hook: what the firewall let in),
    joined to multicast ``group`` on the interface with ``interface_address`` when given."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol)
    if group:
        membership = socket.inet_aton(group) + socket.inet_aton(interface_address)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sources = []
    deadline = time.monotonic() + seconds
    with open(ready, "w", encoding="utf-8"):
        pass
    while time.monotonic() < deadline:
        readable, _w, _x = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if readable:
            _data, peer = sock.recvfrom(65535)
            sources.append(peer[0])
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(sources, handle)


def send_protocol(host, protocol, count=3):
    """``count`` IP packets of ``protocol`` (a VRRP-style advertisement) to ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        for number in range(count):
            sock.sendto(b"advertisement %d" % number, (host, 0))
            time.sleep(0.05)


# --- clients -----------------------------------------------------------------------------------


def udp_ask(host, port, sport=0, timeout=2.0):
    family, sockaddr = _address(host, port, socket.SOCK_DGRAM)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", sport))
        sock.settimeout(timeout)
        sock.sendto(b"request", sockaddr)
        replies = []
        with contextlib.suppress(socket.timeout):
            while True:
                data, peer = sock.recvfrom(4096)
                replies.append([data.decode(errors="replace"), peer[0], peer[1]])
                sock.settimeout(0.5)
    return replies


def tcp_ask(host, port, timeout=3.0):
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        return {"connected": False, "error": str(error), "data": ""}
    chunks = []
    with conn, contextlib.suppress(socket.timeout):
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return {"connected": True, "error": None, "data": b"".join(chunks).decode(errors="replace")}


def _checksum(header):
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def dhcp_broadcast(interface, sport, dport, payload=b"DHCPDISCOVER from a probe"):
    """What an address-less DHCP client sends: 0.0.0.0:sport to 255.255.255.255:dport."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), b"\xff" * 4
    )
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
        raw.bind((interface, 0))
        mac = raw.getsockname()[4]
        raw.send(b"\xff" * 6 + mac + b"\x08\x00" + header + udp)


# --- scans -------------------------------------------------------------------------------------


def _scan_batch(host, ports):
    poller = select.epoll()
    pending = {}
    result = {"open": [], "closed": []}
    family, sockaddr = _address(host, 0, socket.SOCK_STREAM)
    unreachable = 0
    for index, port in enumerate(ports):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(_with_port(sockaddr, port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(code, "connect to %s:%d: %s" % (host, port, os.strerror(code)))
        pending[sock.fileno()] = (sock, port)
        poller.register(sock.fileno(), select.EPOLLOUT)
        _pace(index)
    deadline = time.monotonic() + SCAN_WAIT
    while pending and time.monotonic() < deadline:
        for fileno, _events in poller.poll(max(0.0, deadline - time.monotonic())):
            sock, port = pending.pop(fileno)
            poller.unregister(fileno)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error in (0, errno.ECONNREFUSED):
                result["open" if error == 0 else "closed"].append(port)
            else:
                unreachable += 1
            sock.close()
    for sock, _port in pending.values():
        sock.close()
    poller.close()
    return result, len(pending) + unreachable


def scan_tcp(host, ports=ALL_PORTS):
    """Every port sorted into open, closed (both reached the host) and no answer."""
    _raise_file_limit()
    ports = list(ports)
    summary = {"open": [], "closed": [], "no_answer": 0}
    for start in range(0, len(ports), SCAN_BATCH):
        batch, silent = _scan_batch(host, ports[start : start + SCAN_BATCH])
        summary["open"] += batch["open"]
        summary["closed"] += batch["closed"]
        summary["no_answer"] += silent
    summary["open"].sort()
    summary["closed"].sort()
    return summary


def _udp_socket(ipv6):
    if not ipv6:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return sock


def _listen_chunk(ports, seconds, out, ready, ipv6=False):
    sockets = {}
    unbindable = []
    for port in ports:
        sock = _udp_socket(ipv6)
        try:
            sock.bind(("::" if ipv6 else "0.0.0.0", port))
        except OSError:
            unbindable.append(port)
            sock.close()
            continue
        sock.setblocking(False)
        sockets[sock.fileno()] = (sock, port)
    poller = select.epoll()
    for fileno in sockets:
        poller.register(fileno, select.EPOLLIN)
    open(ready, "w", encoding="utf-8").close()
    received = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for fileno, _events in poller.poll(max(0.0, deadline - time.monotonic())):
            sock, port = sockets[fileno]
            with contextlib.suppress(BlockingIOError):
                while True:
                    _data, peer = sock.recvfrom(2048)
                    received.setdefault(str(port), []).append("%s:%d" % peer[:2])
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"received": received, "unbindable": unbindable}, handle)


def listen_udp_all(seconds, out, ready, ports=ALL_PORTS, ipv6=False):
    """Bind every free UDP port (a few processes, for the file limit) and log what arrives."""
    _raise_file_limit()
    ports = list(ports)
    children = []
    parts = []
    for number, start in enumerate(range(0, len(ports), UDP_CHUNK)):
        part = ("%s.%d" % (out, number), "%s.%d" % (ready, number))
        parts.append(part)
        pid = os.fork()
        if pid == 0:
            try:
                _listen_chunk(ports[start : start + UDP_CHUNK], seconds, *part, ipv6=ipv6)
            finally:
                os._exit(0)
        children.append(pid)
    while not all(os.path.exists(part[1]) for part in parts):
        time.sleep(0.05)
    open(ready, "w", encoding="utf-8").close()
    for pid in children:
        os.waitpid(pid, 0)
    merged = {"received": {}, "unbindable": []}
    for part_out, part_ready in parts:
        with open(part_out, encoding="utf-8") as handle:
            chunk = json.load(handle)
        merged["received"].update(chunk["received"])
        merged["unbindable"] += chunk["unbindable"]
        os.unlink(part_out)
        os.unlink(part_ready)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(merged, handle)


def send_udp_all(host, sport=0, ports=ALL_PORTS):
    family, sockaddr = _address(host, 0, socket.SOCK_DGRAM)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", sport))
        for index, port in enumerate(ports):
            with contextlib.suppress(ConnectionRefusedError):
                sock.sendto(b"fw-scan", _with_port(sockaddr, port))
            _pace(index)


# --- command line ------------------------------------------------------------------------------


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("serve-udp")
    command.add_argument("port", type=int)
    command.add_argument("--log", required=True)
    command.add_argument("--replies", type=int, default=1)
    command.add_argument("--offer-to")
    command.add_argument("--dual", action="store_true", help="IPv6 as well as IPv4")
    command = commands.add_parser("serve-tcp")
    command.add_argument("port", type=int)
    command.add_argument("--log", required=True)
    command.add_argument("--lines", type=int, default=3)
    command.add_argument("--dual", action="store_true", help="IPv6 as well as IPv4")
    command = commands.add_parser("udp-ask")
    command.add_argument("host")
    command.add_argument("port", type=int)
    command.add_argument("--sport", type=int, default=0)
    command = commands.add_parser("tcp-ask")
    command.add_argument("host")
    command.add_argument("port", type=int)
    command = commands.add_parser("dhcp-broadcast")
    command.add_argument("interface")
    command.add_argument("sport", type=int)
    command.add_argument("dport", type=int)
    command = commands.add_parser("scan-tcp")
    command.add_argument("host")
    command.add_argument("--ports")
    command = commands.add_parser("listen-udp-all")
    command.add_argument("--seconds", type=float, required=True)
    command.add_argument("--out", required=True)
    command.add_argument("--ready", required=True)
    command.add_argument("--ipv6", action="store_true")
    command = commands.add_parser("listen-protocol")
    command.add_argument("protocol", type=int)
    command.add_argument("--seconds", type=float, required=True)
    command.add_argument("--out", required=True)
    command.add_argument("--ready", required=True)
    command.add_argument("--group")
    command.add_argument("--interface-address")
    command = commands.add_parser("send-protocol")
    command.add_argument("host")
    command.add_argument("protocol", type=int)
    command.add_argument("--count", type=int, default=3)
    command = commands.add_parser("send-udp-all")
    command.add_argument("host")
    command.add_argument("--sport", type=int, default=0)
    command.add_argument("--ports")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    handlers = {
        "serve-udp": lambda: serve_udp(
            args.port, args.log, args.replies, args.offer_to, dual=args.dual
        ),
        "serve-tcp": lambda: serve_tcp(args.port, args.log, args.lines, dual=args.dual),
        "udp-ask": lambda: udp_ask(args.host, args.port, args.sport),
        "tcp-ask": lambda: tcp_ask(args.host, args.port),
        "dhcp-broadcast": lambda: dhcp_broadcast(args.interface, args.sport, args.dport),
        "scan-tcp": lambda: scan_tcp(args.host, _ports(args.ports)),
        "listen-udp-all": lambda: listen_udp_all(
            args.seconds, args.out, args.ready, ipv6=args.ipv6
        ),
        "send-udp-all": lambda: send_udp_all(args.host, args.sport, _ports(args.ports)),
        "listen-protocol": lambda: listen_protocol(
            args.protocol,
            args.seconds,
            args.out,
            args.ready,
            group=args.group,
            interface_address=args.interface_address,
        ),
        "send-protocol": lambda: send_protocol(args.host, args.protocol, args.count),
    }
    result = handlers[args.command]()
    if result is not None:
        print(json.dumps(result, sort_keys=True))
    return 0


# --- the probes' own tests, on loopback ---------------------------------------------------------


def _free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tcp_scan_tells_open_from_closed_on_loopback():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    listening = server.getsockname()[1]
    closed = _free_port()
    try:
        result = scan_tcp("127.0.0.1", [listening, closed])
    finally:
        server.close()
    assert result == {"open": [listening], "closed": [closed], "no_answer": 0}


def test_udp_listener_records_only_the_ports_that_got_a_datagram(tmp_path):
    ports = [_free_port(socket.SOCK_DGRAM) for _port in range(3)]
    out, ready = str(tmp_path / "out.json"), str(tmp_path / "ready")
    listener = threading.Thread(target=listen_udp_all, args=(1.5, out, ready, ports))
    listener.start()
    while not os.path.exists(ready):
        time.sleep(0.05)
    send_udp_all("127.0.0.1", ports=ports[:2])
    listener.join()
    with open(out, encoding="utf-8") as handle:
        received = json.load(handle)["received"]
    assert sorted(int(port) for port in received) == sorted(ports[:2])


def test_tcp_scan_tells_open_from_closed_over_ipv6_loopback():
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.bind(("::1", 0))
    server.listen(4)
    listening = server.getsockname()[1]
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as free:
        free.bind(("::1", 0))
        closed = free.getsockname()[1]
    try:
        result = scan_tcp("::1", [listening, closed])
    finally:
        server.close()
    assert result == {"open": [listening], "closed": [closed], "no_answer": 0}


def test_ipv6_udp_listener_records_only_the_ports_that_got_a_datagram(tmp_path):
    ports = []
    for _attempt in range(3):
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
            ports.append(sock.getsockname()[1])
    out, ready = str(tmp_path / "out.json"), str(tmp_path / "ready")
    listener = threading.Thread(target=listen_udp_all, args=(1.5, out, ready, ports, True))
    listener.start()
    while not os.path.exists(ready):
        time.sleep(0.05)
    send_udp_all("::1", ports=ports[:2])
    listener.join()
    with open(out, encoding="utf-8") as handle:
        received = json.load(handle)["received"]
    assert sorted(int(port) for port in received) == sorted(ports[:2])


def test_port_lists_read_ranges_and_single_ports():
    assert _ports("20-22,514") == [20, 21, 22, 514]
    assert _ports(None) is ALL_PORTS


def test_udp_server_answers_as_many_times_as_asked(tmp_path):
    port = _free_port(socket.SOCK_DGRAM)
    log = str(tmp_path / "log")
    threading.Thread(target=serve_udp, args=(port, log, 2), daemon=True).start()
    time.sleep(0.2)
    replies = udp_ask("127.0.0.1", port)
    assert [reply[0] for reply in replies] == ["reply 0 to request", "reply 1 to request"]


if __name__ == "__main__":
    sys.exit(main())


def test_a_dual_stack_server_answers_over_ipv4_and_ipv6_on_loopback(tmp_path):
    port = _free_port(socket.SOCK_DGRAM)
    server = threading.Thread(
        target=serve_udp, args=(port, str(tmp_path / "log")), kwargs={"dual": True}, daemon=True
    )
    server.start()
    time.sleep(0.2)
    for host in ("127.0.0.1", "::1"):
        replies = udp_ask(host, port)
        assert [reply[0] for reply in replies] == ["reply 0 to request"], host
