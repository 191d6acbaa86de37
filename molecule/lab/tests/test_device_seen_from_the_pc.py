"""Seen from the PC host over the lab network: the simulated MPCPUs answer their rows."""

import json

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

EASY_CPU = appendix_d.row("easy_cpu").mpcpu_port
ACTIVITY_LOG = appendix_d.row("activity_logging").mpcpu_port

PROBE = """
import json, socket, sys
kind, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "udp":
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"STATUS\\r\\n", (address, port))
        replies = []
        try:
            while True:
                replies.append(sock.recvfrom(2048))
        except socket.timeout:
            pass
    print(json.dumps([[data.decode(), peer[0]] for data, peer in replies]))
else:
    with socket.create_connection((address, port), timeout=5) as conn:
        print(json.dumps([conn.makefile("rb").readline().decode()]))
"""


def probe(host, kind, address, port):
    result = host.run(
        "python3 -c '%s' %s %s %d" % (PROBE.replace("'", "'\\''"), kind, address, port)
    )
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def test_each_mpcpu_answers_an_easy_cpu_request_from_its_own_address(host):
    for address in ("198.51.100.40", "198.51.100.41"):
        replies = probe(host, "udp", address, EASY_CPU)
        assert replies, "no EASY CPU reply from %s" % address
        assert all(peer == address for _text, peer in replies)
        assert all(text.startswith("MPCPU ") for text, _peer in replies)


def test_the_activity_log_streams_a_sequence_numbered_line(host):
    (line,) = probe(host, "tcp", "198.51.100.40", ACTIVITY_LOG)
    sequence = line.split()[0]
    assert sequence.isdigit() and int(sequence) >= 1
    assert "cpu-a" in line


def test_the_simulator_host_itself_is_no_mpcpu(host):
    assert probe(host, "udp", "198.51.100.33", EASY_CPU) == []
