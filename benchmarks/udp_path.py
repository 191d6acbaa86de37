"""A slow, lossy UDP path in userspace, for TFTP benchmarks and tests (this kernel has no netem).

``UdpPath`` relays datagrams between clients and one UDP server on loopback, holding each for
a fixed one-way ``delay`` and dropping each with probability ``loss_up`` (client to server) or
``loss_down`` (server to client), from seeded random generators (one per direction, so a run
is repeatable on its own). The same path object can carry several transfers at once.

TFTP's transfer IDs: a client sends its request to the path's ``port``; the server answers
from a new port (its TID), and the path answers the client from a new port of its own, one
per server TID, so the client sees what it would see without the path: the answer from a
port other than the one it asked. Everything the client sends to that port goes to the
server's TID.

    with UdpPath(("127.0.0.1", 69), delay=0.010, loss_up=0.01, loss_down=0.01) as path:
        client.write(...)  # to ("127.0.0.1", path.port)
    path.stats  # packets forwarded and dropped per direction

``python3 benchmarks/udp_path.py SERVER_PORT --delay-ms 10 --loss 1`` runs one until stopped.
"""

import argparse
import contextlib
import heapq
import ipaddress
import random
import selectors
import socket
import threading
import time

RECEIVE_SIZE = 65535
UP, DOWN = "up", "down"  # client to server, server to client


class _Leg:
    """One client's traffic: the socket that speaks to the server for it, and the ports that
    stand in, to that client, for each of the server's TIDs."""

    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream  # bound to a port of its own; talks to the server
        self.standins = {}  # server TID address -> socket facing the client


class UdpPath:
    """A relay with a fixed one-way delay and seeded random loss in each direction."""

    def __init__(self, server, *, delay=0.0, loss_up=0.0, loss_down=0.0, seed=1, host=None):
        if not ipaddress.ip_address(server[0]).is_loopback:
            raise ValueError("the path relays to loopback only, not %s" % server[0])
        self.server = server
        self.host = host or server[0]
        self.delay = delay
        self.loss = {UP: loss_up, DOWN: loss_down}
        self.random = {UP: random.Random("%s-up" % seed), DOWN: random.Random("%s-down" % seed)}
        self.stats = {"forwarded_up": 0, "dropped_up": 0, "forwarded_down": 0, "dropped_down": 0}
        self.selector = selectors.DefaultSelector()
        self.listener = self.open_socket()
        self.port = self.listener.getsockname()[1]
        self.selector.register(self.listener, selectors.EVENT_READ, self.from_client_to_listener)
        self.legs = {}  # client address -> _Leg
        self.due = []  # heap of (time, sequence, socket, datagram, address)
        self.sequence = 0
        self.stopping = threading.Event()
        self.thread = None

    def open_socket(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.bind((self.host, 0))
        sock.setblocking(False)
        return sock

    # Running -------------------------------------------------------------------------------

    def __enter__(self):
        self.thread = threading.Thread(target=self.serve, name="udp-path", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()

    def serve(self):
        """Relay until ``stop``: wait for a datagram or the next one due, whichever is first."""
        while not self.stopping.is_set():
            wait = 0.05 if not self.due else max(self.due[0][0] - time.monotonic(), 0.0)
            for key, _mask in self.selector.select(min(wait, 0.05)):
                self.drain(key.fileobj, key.data)
            self.deliver_due()

    def drain(self, sock, handler):
        while True:
            try:
                datagram, source = sock.recvfrom(RECEIVE_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error for an earlier datagram: the path drops it anyway
            handler(sock, datagram, source)

    def deliver_due(self):
        now = time.monotonic()
        while self.due and self.due[0][0] <= now:
            _when, _sequence, sock, datagram, address = heapq.heappop(self.due)
            with contextlib.suppress(OSError):  # the far end is gone: the path loses it
                sock.sendto(datagram, address)

    # Forwarding ----------------------------------------------------------------------------

    def carry(self, direction, sock, datagram, address):
        """Drop the datagram, or send it from ``sock`` to ``address`` after the delay."""
        if self.random[direction].random() < self.loss[direction]:
            self.stats["dropped_" + direction] += 1
            return
        self.stats["forwarded_" + direction] += 1
        self.sequence += 1
        due = (time.monotonic() + self.delay, self.sequence, sock, datagram, address)
        heapq.heappush(self.due, due)

    def from_client_to_listener(self, _sock, datagram, client):
        """A request: on to the server's well-known port, from this client's upstream port."""
        leg = self.legs.get(client)
        if leg is None:
            leg = self.legs[client] = _Leg(client, self.open_socket())
            self.selector.register(leg.upstream, selectors.EVENT_READ, self.from_server(leg))
        self.carry(UP, leg.upstream, datagram, self.server)

    def from_server(self, leg):
        def handle(_sock, datagram, server_tid):
            standin = leg.standins.get(server_tid)
            if standin is None:
                standin = leg.standins[server_tid] = self.open_socket()
                to_server = self.from_client_to_standin(leg, server_tid)
                self.selector.register(standin, selectors.EVENT_READ, to_server)
            self.carry(DOWN, standin, datagram, leg.client)

        return handle

    def from_client_to_standin(self, leg, server_tid):
        def handle(_sock, datagram, _client):
            self.carry(UP, leg.upstream, datagram, server_tid)

        return handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("server_port", type=int)
    parser.add_argument("--server-host", default="127.0.0.1")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="one-way delay")
    parser.add_argument("--loss", type=float, default=0.0, help="percent lost each way")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    loss = args.loss / 100
    server = (args.server_host, args.server_port)
    path = UdpPath(server, delay=args.delay_ms / 1000, loss_up=loss, loss_down=loss, seed=args.seed)
    print(path.port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        path.serve()


if __name__ == "__main__":
    main()
