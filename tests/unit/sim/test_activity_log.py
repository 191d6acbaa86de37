"""The activity-log stream (row activity_logging): order, format and exact replay."""

import re
import socket
import time

import pytest

LINE = re.compile(rb"^(\d+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) (\S+) ([A-Z0-9 ]+)\r\n$")
FAST_LOG = ("--set", "log_rate=200", "--set", "log_request_wait=0.3")


class Collector:
    """A TCP client of the device's activity-log port."""

    def __init__(self, simulator, name, request=None):
        address = (simulator.address(name), simulator.port(name, "activity_logging"))
        self.sock = socket.create_connection(address, timeout=10)
        self.stream = self.sock.makefile("rb")
        if request is not None:
            self.sock.sendall(request)

    def lines(self, count):
        return [self.stream.readline() for _line in range(count)]

    def close(self):
        self.stream.close()
        self.sock.close()


def sequence_numbers(lines):
    numbers = []
    for line in lines:
        match = LINE.match(line)
        assert match, line
        numbers.append(int(match.group(1)))
    return numbers


@pytest.fixture
def simulator(start_simulator):
    return start_simulator("--address", "cpu001=127.0.5.1", *FAST_LOG)


def test_lines_carry_seq_time_name_and_event_from_line_1(simulator):
    collector = Collector(simulator, "cpu001", b"LOG 1\r\n")
    lines = collector.lines(50)
    collector.close()
    assert sequence_numbers(lines) == list(range(1, 51))
    assert {LINE.match(line).group(3) for line in lines} == {b"cpu001"}


def test_resume_with_log_n_replays_the_same_bytes_then_goes_on(simulator):
    first = Collector(simulator, "cpu001", b"LOG 1\r\n")
    seen = first.lines(100)
    first.close()
    resumed = Collector(simulator, "cpu001", b"LOG 40\r\n")
    again = resumed.lines(120)
    resumed.close()
    assert again[:61] == seen[39:100]
    assert sequence_numbers(again) == list(range(40, 160))


def test_without_a_request_the_stream_starts_with_live_lines(simulator):
    time.sleep(0.5)  # at 200 lines/s, at least 100 lines exist before we connect
    collector = Collector(simulator, "cpu001")
    numbers = sequence_numbers(collector.lines(20))
    collector.close()
    assert numbers[0] > 50
    assert numbers == list(range(numbers[0], numbers[0] + 20))


def test_collectors_at_the_same_time_get_the_same_lines(simulator):
    collectors = [Collector(simulator, "cpu001", b"LOG 5\r\n") for _collector in range(3)]
    received = [collector.lines(40) for collector in collectors]
    for collector in collectors:
        collector.close()
    assert received[0] == received[1] == received[2]
    assert sequence_numbers(received[0]) == list(range(5, 45))


def test_ring_buffer_keeps_only_the_last_lines(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.5.2", *FAST_LOG, "--set", "log_buffer=20"
    )
    time.sleep(0.5)
    collector = Collector(simulator, "cpu001", b"LOG 1\r\n")
    numbers = sequence_numbers(collector.lines(30))
    collector.close()
    assert numbers[0] > 50  # lines 1.. fell out of the 20-line buffer
    assert numbers == list(range(numbers[0], numbers[0] + 30))


def test_a_bad_request_gets_an_error_line_and_the_connection_closes(simulator):
    collector = Collector(simulator, "cpu001", b"HELLO\r\n")
    assert collector.stream.readline() == b"ERROR expected LOG <next_seq>\r\n"
    assert collector.stream.readline() == b""
    collector.close()


def test_status_counts_connected_collectors(simulator):
    collector = Collector(simulator, "cpu001", b"LOG 1\r\n")
    collector.lines(1)
    simulator.wait_for(lambda status: status["devices"]["cpu001"]["log"]["collectors"] == 1)
    collector.close()
    simulator.wait_for(lambda status: status["devices"]["cpu001"]["log"]["collectors"] == 0)
