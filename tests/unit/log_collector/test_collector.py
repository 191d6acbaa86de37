"""The activity-log collector (roles/log_collector/files/mpcpu_log_collector.py), without a lab.

The end-to-end tests run a device that follows the documented protocol on loopback.
"""

import asyncio
import contextlib
import importlib.util
import json
import locale
import os
import pathlib
import time

import pytest

PROGRAM = (
    pathlib.Path(__file__).resolve().parents[3]
    / "roles"
    / "log_collector"
    / "files"
    / "mpcpu_log_collector.py"
)
_spec = importlib.util.spec_from_file_location("mpcpu_log_collector", PROGRAM)
collector = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(collector)

IP = "198.51.100.10"
NOVEMBER_2026 = time.struct_time((2026, 11, 24, 12, 0, 0, 1, 328, 0))
DECEMBER_2026 = time.struct_time((2026, 12, 1, 0, 0, 1, 1, 335, 0))


def device_line(seq, name="cpu-a"):
    stamp = b"2026-11-24T12:00:%02d" % (seq % 60)
    return b"%d %s %s ALARM %d ACTIVATED\r\n" % (seq, stamp, name.encode(), seq)


def seqs_in(path):
    return [collector.line_seq(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def dirs(tmp_path):
    log_dir, state_dir = tmp_path / "log", tmp_path / "state"
    log_dir.mkdir()
    state_dir.mkdir()
    return log_dir, state_dir


# --- names ------------------------------------------------------------------------------------


def test_file_name_follows_the_vendor_pattern():
    assert collector.log_file_name(IP, 2026, 11) == "ADUltraCPU_198.51.100.10_November_2026.log"


def test_month_names_stay_english_whatever_the_locale():
    with contextlib.suppress(locale.Error):
        locale.setlocale(locale.LC_TIME, "de_DE.UTF-8")
    try:
        assert collector.log_file_name(IP, 2027, 3) == "ADUltraCPU_198.51.100.10_March_2027.log"
    finally:
        locale.setlocale(locale.LC_TIME, "C")


def test_file_names_parse_back_and_strangers_do_not():
    assert collector.parse_log_file_name("ADUltraCPU_198.51.100.10_May_2026.log") == (IP, 2026, 5)
    assert collector.parse_log_file_name("ADUltraCPU_198.51.100.10_Mai_2026.log") is None
    assert collector.parse_log_file_name("notes.txt") is None


# --- which lines are written ---------------------------------------------------------------


def test_lines_are_written_once_in_order_and_duplicates_dropped():
    sequence = collector.SequenceFilter(last_seq=5)
    verdicts = [sequence.feed(device_line(seq)) for seq in (6, 7, 7, 5, 8)]
    assert verdicts == ["write", "write", "duplicate", "duplicate", "write"]
    assert sequence.last_seq == 8


def test_a_first_line_below_the_request_means_the_device_restarted():
    assert collector.SequenceFilter(last_seq=500).feed(device_line(3)) == "restarted"


def test_a_gap_is_written_and_counted():
    sequence = collector.SequenceFilter(last_seq=1)
    assert sequence.feed(device_line(5)) == "write"
    assert sequence.missing == 3


def test_unnumbered_lines_are_kept():
    assert collector.SequenceFilter(last_seq=9).feed(b"DEVICE BANNER\r\n") == "write"


def test_split_lines_keeps_the_incomplete_rest():
    assert collector.split_lines(b"1 a\r\n2 b\r\n3 c") == ([b"1 a\r\n", b"2 b\r\n"], b"3 c")
    assert collector.split_lines(b"partial") == ([], b"partial")


# --- back-off ----------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_jitters_in_the_upper_half():
    low = collector.Backoff(1.0, 8.0, rng=lambda: 0.0)
    assert [low.next_delay() for _attempt in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    high = collector.Backoff(1.0, 8.0, rng=lambda: 0.999999)
    assert max(high.next_delay() for _attempt in range(50)) < 8.0
    high.reset()
    assert high.next_delay() < 1.0


# --- files and state -----------------------------------------------------------------------


def test_append_writes_the_lines_and_saves_the_last_seq(dirs):
    log_dir, state_dir = dirs
    files = collector.DeviceFiles(str(log_dir), str(state_dir), IP, clock=lambda: NOVEMBER_2026)
    files.append([device_line(1), device_line(2)], 2)
    path = log_dir / "ADUltraCPU_198.51.100.10_November_2026.log"
    assert seqs_in(path) == [1, 2]
    assert (state_dir / ("%s.seq" % IP)).read_text() == "2\n"
    assert oct(path.stat().st_mode & 0o777) == "0o640"


def test_the_file_name_changes_with_the_month(dirs):
    log_dir, state_dir = dirs
    month = [NOVEMBER_2026]
    files = collector.DeviceFiles(str(log_dir), str(state_dir), IP, clock=lambda: month[0])
    files.append([device_line(1)], 1)
    month[0] = DECEMBER_2026
    files.append([device_line(2)], 2)
    assert seqs_in(log_dir / "ADUltraCPU_198.51.100.10_November_2026.log") == [1]
    assert seqs_in(log_dir / "ADUltraCPU_198.51.100.10_December_2026.log") == [2]


def test_recover_takes_the_newest_file_when_it_is_ahead_of_the_state(dirs):
    log_dir, state_dir = dirs
    (state_dir / ("%s.seq" % IP)).write_text("3\n")
    older = log_dir / "ADUltraCPU_198.51.100.10_October_2026.log"
    older.write_bytes(b"".join(device_line(seq) for seq in range(1, 100)))
    newest = log_dir / "ADUltraCPU_198.51.100.10_November_2026.log"
    newest.write_bytes(device_line(100) + device_line(101) + b"102 2026-11-24T12:0")
    files = collector.DeviceFiles(str(log_dir), str(state_dir), IP)
    assert files.recover() == 101
    assert newest.read_bytes().endswith(b"ACTIVATED\r\n")  # the partial line was cut off


def test_recover_keeps_the_state_when_the_files_are_gone(dirs):
    log_dir, state_dir = dirs
    (state_dir / ("%s.seq" % IP)).write_text("4711\n")
    assert collector.DeviceFiles(str(log_dir), str(state_dir), IP).recover() == 4711


def test_prune_deletes_only_vendor_files_beyond_the_retention(dirs):
    log_dir, _state_dir = dirs
    names = [
        "ADUltraCPU_198.51.100.10_October_2026.log",
        "ADUltraCPU_198.51.100.10_September_2026.log",
        "ADUltraCPU_198.51.100.11_November_2025.log",
        "notes.log",
    ]
    for name in names:
        (log_dir / name).write_text("x")
    removed = collector.prune(str(log_dir), 1, NOVEMBER_2026)
    assert sorted(removed) == sorted(names[1:3])
    assert sorted(os.listdir(log_dir)) == sorted([names[0], names[3]])


# --- configuration -----------------------------------------------------------------------


def test_config_problems_are_all_listed_naming_the_field():
    with pytest.raises(collector.ConfigError) as error:
        collector.check_config(
            {
                "log_dir": "relative",
                "state_dir": "/var/lib/x",
                "retention_months": 0,
                "devices": [
                    {"name": "a", "ip": "198.51.100.300", "port": 70000},
                    {"name": "b", "ip": "198.51.100.11", "port": 514, "colour": "red"},
                ],
            }
        )
    problems = error.value.problems
    assert "log_dir: 'relative' is not an absolute path" in problems
    assert "retention_months: 0 must be a whole number of 1 or more" in problems
    assert "devices[0].ip: '198.51.100.300' is not an IPv4 address" in problems
    assert "devices[0].port: 70000 is not a port number from 1 to 65535" in problems
    assert any(problem.startswith("devices[1].colour: unknown key") for problem in problems)


def test_a_device_request_must_be_text(tmp_path):
    with pytest.raises(collector.ConfigError) as error:
        collector.check_config(
            {
                "log_dir": "/l",
                "state_dir": "/s",
                "devices": [{"name": "a", "ip": IP, "port": 514, "request": 7}],
            }
        )
    assert error.value.problems == ["devices[0].request: 7 is not text"]


def test_check_config_command_accepts_a_good_file(tmp_path, capsys):
    path = tmp_path / "config.json"
    device = {"name": "a", "ip": IP, "port": 514, "source": "198.51.100.1"}
    path.write_text(json.dumps({"log_dir": "/l", "state_dir": "/s", "devices": [device]}))
    assert collector.main(["--check-config", str(path)]) == 0
    assert "1 MPCPU" in capsys.readouterr().out
    path.write_text(json.dumps({"log_dir": "/l", "state_dir": "/s", "devices": [device, device]}))
    assert collector.main(["--check-config", str(path)]) == 1


# --- end to end on loopback ----------------------------------------------------------------


class LoopbackDevice:
    """A device that follows the documented protocol: ``LOG n``, replay, then live lines.

    The test decides when lines happen (``log_up_to``), not the wall clock: on a busy machine
    the collector may take any time to connect, and a device that logs on a timer could have
    logged everything before it is asked, which would leave nothing live to detect.

    ``live_when_ahead``: asked for a line that does not exist yet, stream the live lines at
    once (a device that restarted, as the collector's detection expects) instead of waiting.
    """

    def __init__(self, newest=0, live_when_ahead=False):
        self.newest = newest
        self.live_when_ahead = live_when_ahead
        self.requests = []
        self.writers = set()

    def log_up_to(self, seq):
        self.newest = max(self.newest, seq)

    async def handle(self, reader, writer):
        self.writers.add(writer)
        try:
            request = await reader.readline()
            next_seq = int(request.split()[1])
            self.requests.append(next_seq)
            if self.live_when_ahead and next_seq > self.newest + 1:
                next_seq = self.newest + 1
            while True:
                newest = self.newest
                for seq in range(next_seq, newest + 1):
                    writer.write(device_line(seq))
                next_seq = max(next_seq, newest + 1)
                await writer.drain()
                await asyncio.sleep(0.005)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def drop_connections(self):
        for writer in list(self.writers):
            writer.transport.abort()


def _config(dirs, port):
    log_dir, state_dir = dirs
    return collector.check_config(
        {
            "log_dir": str(log_dir),
            "state_dir": str(state_dir),
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            "devices": [{"name": "cpu-a", "ip": "127.0.0.1", "port": port}],
        }
    )


def _lines_written(config):
    return sum(
        len(seqs_in(pathlib.Path(config["log_dir"], name)))
        for name in os.listdir(config["log_dir"])
    )


async def _wait_until(what, condition, timeout=30.0):
    """Wait for ``condition()``; the generous timeout only ends a test that fails anyway."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "no %s within %.0f s" % (what, timeout)
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _collector_running(config):
    """A collector following the configured device from its saved state until the block ends."""
    device = config["devices"][0]
    files = collector.DeviceFiles(config["log_dir"], config["state_dir"], device["ip"])
    files.recover()
    task = asyncio.ensure_future(collector.Collector(device, files, config).run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        files.close()


@contextlib.asynccontextmanager
async def _serving(device, dirs):
    """The device listening on loopback; yields the collector's configuration for it."""
    server = await asyncio.start_server(device.handle, "127.0.0.1", 0)
    try:
        yield _config(dirs, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        device.drop_connections()
        await server.wait_closed()


async def _collect_through_restart_and_drop(dirs, total):
    device = LoopbackDevice(newest=total // 5)
    async with _serving(device, dirs) as config:
        async with _collector_running(config):
            await _wait_until("first lines", lambda: _lines_written(config) >= total // 5)
            device.log_up_to(total * 2 // 5)  # live lines, some in flight when it stops
        # the collector "restarts"
        async with _collector_running(config):
            await _wait_until("second request", lambda: len(device.requests) == 2)
            device.log_up_to(total * 3 // 5)
            await _wait_until("more lines", lambda: _lines_written(config) > total * 2 // 5)
            device.drop_connections()  # the device's side of the connection is cut
            device.log_up_to(total)
            await _wait_until(
                "reconnection and every line",
                lambda: len(device.requests) >= 3 and _lines_written(config) >= total,
            )
    return device


def test_every_line_once_in_order_across_a_restart_and_a_dropped_connection(dirs):
    device = asyncio.run(_collect_through_restart_and_drop(dirs, total=500))
    (log_file,) = dirs[0].iterdir()
    assert collector.parse_log_file_name(log_file.name)[0] == "127.0.0.1"
    assert seqs_in(log_file) == list(range(1, 501))
    assert device.requests[0] == 1 and len(device.requests) >= 3
    assert all(later > 1 for later in device.requests[1:])  # each resumed, none from scratch


def test_a_device_that_restarted_is_read_again_from_line_1(dirs):
    log_dir, state_dir = dirs
    (state_dir / "127.0.0.1.seq").write_text("9000\n")

    async def scenario():
        device = LoopbackDevice(newest=20, live_when_ahead=True)
        async with _serving(device, dirs) as config, _collector_running(config):
            await _wait_until("request after line 9000", lambda: device.requests == [9001])
            device.log_up_to(50)  # a live line, below 9001: the collector sees the restart
            await _wait_until("50 lines", lambda: _lines_written(config) >= 50)
        return device

    device = asyncio.run(scenario())
    assert device.requests[:2] == [9001, 1]
    (log_file,) = log_dir.iterdir()
    assert seqs_in(log_file) == list(range(1, 51))
