"""Fault injection: rules that drop, duplicate, delay or refuse chosen packets.

A rule is a dict (JSON config) or a command-line spec ``ACTION[:KEY=VALUE...]``, for example
``drop:packet=data:nth=3``, ``drop:packet=ack:probability=0.2:seed=7``,
``error:file=firmware.bin:code=2:message=busy`` or ``die:after_block=100``. docs/simulator.md
lists every key; ``parse_rule`` refuses unknown ones, naming them.
"""

import dataclasses
import fnmatch
import random

ACTIONS = ("drop", "duplicate", "delay", "error", "die")
PACKETS = {
    "tftp": ("rrq", "wrq", "data", "ack", "oack", "error"),
    "easy_cpu": ("request", "reply"),
}
REQUESTS = ("rrq", "wrq", "request")
IN, OUT = "in", "out"

_INT_SETS = ("nth", "block")
_INTS = ("seed", "times", "copies", "code", "after_block")
_FLOATS = ("probability", "seconds")
_STRINGS = ("action", "service", "packet", "direction", "file", "device", "message")


@dataclasses.dataclass(frozen=True)
class FaultRule:
    action: str
    service: str = "tftp"
    packet: str | None = None  # None: any packet (drop, duplicate, delay) or any request
    direction: str | None = None  # None: "in" for requests, "out" for everything else
    nth: frozenset = frozenset()  # 1-based count of matching packets, per transfer (tftp)
    block: frozenset = frozenset()  # absolute TFTP block numbers
    probability: float | None = None
    seed: int | None = None
    file: str | None = None  # fnmatch pattern on the requested file name
    device: str | None = None  # device name or address (global rules)
    times: int | None = None  # fire at most this many times per device
    seconds: float = 0.5  # delay
    copies: int = 1  # duplicate
    code: int = 0  # error: TFTP error code answered to the request
    message: str = "injected fault"
    after_block: int = 0  # die: go silent once this block was sent or received

    @property
    def wanted_direction(self):
        if self.direction:
            return self.direction
        if self.action in ("error", "die") or self.packet in REQUESTS:
            return IN
        return OUT

    def selects(self, service, direction, packet, *, index=None, block=None, filename=None):
        """Whether the rule's selectors (not its probability or budget) match a packet."""
        checks = (
            service == self.service,
            self.packet is None or packet == self.packet,
            direction == self.wanted_direction,
            not self.nth or index in self.nth,
            not self.block or block in self.block,
            self.file is None or (filename is not None and fnmatch.fnmatch(filename, self.file)),
        )
        return all(checks)

    def applies_to(self, device_name, device_address):
        return self.device in (None, device_name, device_address)


def parse_spec(spec):
    """``drop:packet=data:nth=3,5`` -> a FaultRule."""
    action, _colon, rest = spec.partition(":")
    fields = {"action": action}
    for item in filter(None, rest.split(":")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError("fault %r: %r is not KEY=VALUE" % (spec, item))
        fields[key.strip()] = value.strip()
    return parse_rule(fields)


def parse_rule(fields):
    """A dict (from JSON or parse_spec) -> a validated FaultRule; ValueError names the field."""
    fields = dict(fields)
    unknown = set(fields) - set(_INT_SETS + _INTS + _FLOATS + _STRINGS)
    if unknown:
        raise ValueError("fault: unknown key(s) %s" % ", ".join(sorted(unknown)))
    values = {}
    for key, value in fields.items():
        values[key] = _converted(key, value)
    rule = FaultRule(**values)
    _validate(rule)
    return rule


def _converted(key, value):
    try:
        if key in _INT_SETS:
            items = value
            if isinstance(value, str):
                items = value.replace("/", ",").split(",")
            elif isinstance(value, int):
                items = [value]
            return frozenset(int(item) for item in items)
        if key in _INTS:
            return int(value)
        if key in _FLOATS:
            return float(value)
    except (TypeError, ValueError):
        raise ValueError("fault: %s=%r is not a number (list)" % (key, value)) from None
    return str(value)


def _validate(rule):
    if rule.action not in ACTIONS:
        raise ValueError("fault: action=%r, expected one of %s" % (rule.action, ", ".join(ACTIONS)))
    if rule.service not in PACKETS:
        raise ValueError(
            "fault: service=%r, expected one of %s" % (rule.service, ", ".join(PACKETS))
        )
    if rule.packet is not None and rule.packet not in PACKETS[rule.service]:
        raise ValueError(
            "fault: packet=%r, expected one of %s" % (rule.packet, ", ".join(PACKETS[rule.service]))
        )
    if rule.direction not in (None, IN, OUT):
        raise ValueError("fault: direction=%r, expected in or out" % rule.direction)
    if rule.probability is not None and not 0.0 <= rule.probability <= 1.0:
        raise ValueError("fault: probability=%r is not within 0..1" % rule.probability)
    if rule.action in ("error", "die") and rule.packet not in (None, "rrq", "wrq"):
        raise ValueError("fault: %s applies to a request: packet must be rrq or wrq" % rule.action)
    if rule.action == "error" and not 0 <= rule.code <= 65535:
        raise ValueError("fault: code=%r is not a TFTP error code" % rule.code)


@dataclasses.dataclass
class PacketFate:
    """What happens to one packet: dropped, or sent ``copies`` times after ``delay`` s."""

    drop: bool = False
    copies: int = 1
    delay: float = 0.0


class FaultPlan:
    """The rules that apply to one device, with their per-device random state and budgets."""

    def __init__(self, rules, device_name, device_address):
        self.rules = [rule for rule in rules if rule.applies_to(device_name, device_address)]
        self._random = {
            index: random.Random("%s/%s" % (rule.seed, device_name))
            for index, rule in enumerate(self.rules)
        }
        self._fired = [0] * len(self.rules)
        self.injected = 0

    def _fires(self, index, rule):
        if rule.times is not None and self._fired[index] >= rule.times:
            return False
        if rule.probability is not None and self._random[index].random() >= rule.probability:
            return False
        self._fired[index] += 1
        self.injected += 1
        return True

    def _firing(self, actions, packet):
        for index, rule in enumerate(self.rules):
            if rule.action in actions and rule.selects(**packet) and self._fires(index, rule):
                yield rule

    def packet_fate(self, service, direction, packet, *, index=None, block=None, filename=None):
        fate = PacketFate()
        selected = dict(
            service=service,
            direction=direction,
            packet=packet,
            index=index,
            block=block,
            filename=filename,
        )
        for rule in self._firing(("drop", "duplicate", "delay"), selected):
            if rule.action == "drop":
                fate.drop = True
            elif rule.action == "duplicate":
                fate.copies += rule.copies
            else:
                fate.delay += rule.seconds
        return fate

    def request_error(self, packet, filename):
        """(code, message) to answer a TFTP request with instead of serving it, or None."""
        for rule in self._firing(("error",), _request(packet, filename)):
            return rule.code, rule.message
        return None

    def die_after(self, packet, filename):
        """The block after which a transfer goes silent, or None."""
        for rule in self._firing(("die",), _request(packet, filename)):
            return rule.after_block
        return None


def _request(packet, filename):
    # error and die rules name the request kind in "packet" (or None for both kinds).
    return dict(service="tftp", direction=IN, packet=packet, filename=filename)
