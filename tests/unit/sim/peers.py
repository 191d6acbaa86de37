"""Minimal PC-side peers for the client tests, on loopback: an SMTP sink and an SNTP server.

Just enough of each protocol to see what the simulated MPCPU sends (aiosmtpd and an NTP
daemon are not available on the machine, and a test wants to see the raw exchange).
"""

import socket
import socketserver
import struct
import threading
import time

NTP_TO_UNIX = 2208988800


class SmtpSink(socketserver.ThreadingTCPServer):
    """Accepts every message (or refuses recipients in ``refuse``); keeps what it got."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, refuse=()):
        super().__init__(address, _SmtpSession)
        self.refuse = set(refuse)
        self.messages = []  # (peer address, MAIL FROM, [RCPT TO], message bytes)

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")

    def handle(self):
        sender, recipients = None, []
        self.reply("220 sink.test ESMTP test sink")
        for raw in self.rfile:
            command = raw.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink.test")
            elif verb == "MAIL":
                sender = command.split(":", 1)[1].strip(" <>")
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                recipient = command.split(":", 1)[1].strip(" <>")
                if recipient in self.server.refuse:
                    self.reply("550 5.1.1 no such user")
                else:
                    recipients.append(recipient)
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = self._read_data()
                self.server.messages.append((self.client_address, sender, recipients, body))
                self.reply("250 2.0.0 Ok: queued as SINK%d" % len(self.server.messages))
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("250 Ok")

    def _read_data(self):
        lines = []
        for raw in self.rfile:
            if raw == b".\r\n":
                break
            lines.append(raw[1:] if raw.startswith(b"..") else raw)
        return b"".join(lines)


class SntpServer:
    """Answers each request with its clock ``offset`` seconds ahead; ``stratum`` 0 is a KoD."""

    def __init__(self, address, offset=0.0, stratum=2, answer=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self.offset, self.stratum, self.answer = offset, stratum, answer
        self.clients = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            self.clients.append(client)
            if self.answer and len(data) >= 48:
                self.sock.sendto(self._reply(data), client)

    def _reply(self, request):
        now = time.time() + self.offset
        stamp = _ntp(now)
        header = bytes([0 << 6 | 4 << 3 | 4, self.stratum, 6, 0xEC])
        refid = b"RATE" if self.stratum == 0 else socket.inet_aton("203.0.113.10")
        return header + bytes(8) + refid + stamp + request[40:48] + stamp + _ntp(now)


def _ntp(seconds):
    whole = int(seconds)
    return struct.pack("!II", whole + NTP_TO_UNIX, int((seconds - whole) * 2**32))
