"""EASY CPU status (UDP, MPCPU side listens): every request gets one or more replies.

The guide: "each received request produces one or more replies to the requesting client".
The payload of a request is not documented, so any payload (even an empty one) is answered
with ``easy_cpu_replies`` datagrams:
``MPCPU <name> <ip> STATUS <i>/<n> uptime=<s> version=<v>\\r\\n``.
"""

import asyncio
import logging

LOGGER = logging.getLogger("mpcpu_sim.easy_cpu")


def _role(device):
    settings = device.settings
    if device.mate is None:
        return ""
    word = settings.status_selected_word if device.selected else settings.status_standby_word
    return settings.status_role_format.format(state=word)


def replies(device):
    settings = device.settings
    total = settings.easy_cpu_replies
    fields = {
        "name": device.name,
        "address": device.address,
        "total": total,
        "uptime": device.uptime(),
        "version": device.firmware.version,
        "role": _role(device),
    }
    return [
        (settings.status_reply_format.format(index=index, **fields) + "\r\n").encode(
            "ascii", "replace"
        )
        for index in range(1, total + 1)
    ]


def answered(device, data):
    """Whether the device answers this request: not while flashing, and only the configured
    request when there is one."""
    if device.flashing():
        return False
    wanted = device.settings.status_request
    return not wanted or data == wanted.encode("utf-8", "replace")


class EasyCpuProtocol(asyncio.DatagramProtocol):
    def __init__(self, device):
        self.device = device
        self.transport = None
        self.requests = 0
        self.replies = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        device = self.device
        if not answered(device, data):
            return
        self.requests += 1
        fate = device.faults.packet_fate("easy_cpu", "in", "request", index=self.requests)
        if fate.drop:
            return
        device.counters["easy_cpu_requests"] += 1
        for reply in replies(device):
            self.replies += 1
            fate = device.faults.packet_fate("easy_cpu", "out", "reply", index=self.replies)
            if not fate.drop:
                send_later(self.transport, reply, addr, fate)
        device.changed()

    def error_received(self, exc):
        LOGGER.debug("%s: easy_cpu socket error: %s", self.device.name, exc)


def send_later(transport, data, addr, fate):
    """Send ``data`` as a packet's fate says: ``copies`` times, after ``delay`` seconds."""

    def send():
        if not transport.is_closing():
            for _copy in range(fate.copies):
                transport.sendto(data, addr)

    if fate.delay > 0:
        asyncio.get_running_loop().call_later(fate.delay, send)
    else:
        send()
