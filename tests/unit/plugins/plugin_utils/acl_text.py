"""A small evaluator for rendered Cisco-style ACL text (IOS, NX-OS, EOS, ASA, and the
hand-written IOS ACL with object groups): the second opinion on the flow check, read from the
vendor file itself rather than from Aerleon's policy object. First matching entry decides;
no match is the implicit deny."""

import ipaddress
import re

# Port names the generators write instead of numbers (EOS, ASA).
PORT_NAMES = {"bootpc": 68, "bootps": 67, "cmd": 514, "ntp": 123, "smtp": 25, "tftp": 69}
PORT_OPERATORS = ("eq", "range", "gt", "lt")


def _port(word):
    return PORT_NAMES[word] if word in PORT_NAMES else int(word)


class _Words:
    def __init__(self, words):
        self.words = words

    def next(self):
        return self.words.pop(0)

    def peek(self):
        return self.words[0] if self.words else None


def _address(words, groups):
    """A list of networks, or None for any."""
    word = words.next()
    if word == "any":
        return None
    if word == "host":
        return [ipaddress.ip_network(words.next())]
    if word == "object-group":
        return groups[words.next()]
    if "/" in word:
        return [ipaddress.ip_network(word)]
    wildcard = words.next()
    return [ipaddress.ip_network("%s/%s" % (word, wildcard))]


def _ports(words):
    """(first, last) port range, or None for any."""
    if words.peek() not in PORT_OPERATORS:
        return None
    operator = words.next()
    if operator == "eq":
        port = _port(words.next())
        return port, port
    if operator == "range":
        return _port(words.next()), _port(words.next())
    if operator == "gt":
        return _port(words.next()) + 1, 65535
    return 0, _port(words.next()) - 1


def _entry(words, groups):
    words = _Words(words)
    action = words.next()
    protocol = words.next()
    source = _address(words, groups)
    source_ports = _ports(words)
    destination = _address(words, groups)
    destination_ports = _ports(words)
    established = words.peek() == "established"
    return (action, protocol, source, source_ports, destination, destination_ports, established)


def _groups(lines):
    groups, current = {}, None
    for line in lines:
        match = re.match(r"object-group network (\S+)$", line)
        if match:
            current = groups.setdefault(match.group(1), [])
            continue
        if current is not None and line.startswith(" host "):
            current.append(ipaddress.ip_network(line.split()[1]))
        elif not line.startswith(" "):
            current = None
    return groups


def parse(text):
    """{ACL name: [entry]} of IOS/NX-OS/EOS ("ip access-list [extended] NAME" blocks) or
    ASA ("access-list NAME extended ..." lines) text."""
    lines = text.splitlines()
    groups = _groups(lines)
    acls, current = {}, None
    for line in lines:
        asa = re.match(r"access-list (\S+) extended (.*)$", line)
        if asa:
            acls.setdefault(asa.group(1), []).append(_entry(asa.group(2).split(), groups))
            continue
        block = re.match(r"ip access-list (?:extended )?(\S+)$", line)
        if block:
            current = acls.setdefault(block.group(1), [])
        elif current is not None and re.match(r" (permit|deny) ", line):
            current.append(_entry(line.split(), groups))
        elif line and not line.startswith(" "):
            current = None
    return acls


def _inside(address, networks):
    return networks is None or any(ipaddress.ip_address(address) in net for net in networks)


def _port_inside(port, ports):
    return ports is None or ports[0] <= port <= ports[1]


def decide(entries, probe):
    """ "permit" or "deny" for ``probe`` (appliance.Probe) by the first matching entry."""
    for action, protocol, src, sports, dst, dports, established in entries:
        if protocol not in ("ip", probe.protocol):
            continue
        if not (_inside(probe.src, src) and _inside(probe.dst, dst)):
            continue
        if not (_port_inside(probe.src_port, sports) and _port_inside(probe.dst_port, dports)):
            continue
        if established and not probe.established:
            continue
        return action
    return "deny"
