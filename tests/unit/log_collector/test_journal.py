"""Activity records into the journal (roles/log_collector/files/mpcpu_journal.py): the native
protocol's encoding, the fields of a record, and the collector sending one datagram per record
to a journal socket (a real AF_UNIX datagram socket standing in for journald's)."""

import asyncio
import importlib.util
import pathlib
import socket
import struct
import sys
import threading
import time

import pytest

FILES = pathlib.Path(__file__).resolve().parents[3] / "roles" / "log_collector" / "files"


def _load(name, file_name):
    spec = importlib.util.spec_from_file_location(name, FILES / file_name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


journal = _load("mpcpu_journal", "mpcpu_journal.py")
collector = _load("mpcpu_log_collector_for_journal", "mpcpu_log_collector.py")

RECORD = b"12 2026-11-24T12:00:12 cpu-a ALARM 12 ACTIVATED\r\n"


def test_a_record_becomes_its_message_and_structured_fields():
    fields = dict(journal.record_fields(RECORD, "mpcpu-a", "198.51.100.162"))
    assert fields == {
        "MESSAGE": b"12 2026-11-24T12:00:12 cpu-a ALARM 12 ACTIVATED",
        "SYSLOG_IDENTIFIER": "mpcpu-activity",
        "MESSAGE_ID": journal.ACTIVITY_MESSAGE_ID,
        "PRIORITY": "6",
        "MPCPU_NAME": "mpcpu-a",
        "MPCPU_ADDRESS": "198.51.100.162",
        "MPCPU_SEQ": b"12",
        "MPCPU_RECORD_TIME": b"2026-11-24T12:00:12",
        "MPCPU_RECORD_DEVICE": b"cpu-a",
        "MPCPU_EVENT": b"ALARM 12 ACTIVATED",
    }


def test_the_message_id_is_a_journal_message_id():
    assert len(journal.ACTIVITY_MESSAGE_ID) == 32
    int(journal.ACTIVITY_MESSAGE_ID, 16)


def test_a_line_outside_the_protocol_keeps_only_its_text_and_device():
    fields = dict(journal.record_fields(b"garbled line\n", "mpcpu-a", "198.51.100.162"))
    assert fields["MESSAGE"] == b"garbled line"
    assert not any(name in fields for name in ("MPCPU_SEQ", "MPCPU_RECORD_TIME", "MPCPU_EVENT"))


def test_a_record_time_that_is_not_a_timestamp_is_not_taken_as_one():
    fields = dict(journal.record_fields(b"7 yesterday cpu-a X\n", "mpcpu-a", "198.51.100.162"))
    assert "MPCPU_RECORD_TIME" not in fields and "MPCPU_SEQ" not in fields


def test_plain_values_are_name_equals_value_lines():
    assert journal.encode_entry([("MESSAGE", "hello"), ("PRIORITY", "6")]) == (
        b"MESSAGE=hello\nPRIORITY=6\n"
    )


def test_a_value_with_a_newline_goes_length_prefixed():
    datagram = journal.encode_entry([("MESSAGE", b"two\nlines")])
    assert datagram == b"MESSAGE\n" + struct.pack("<Q", 9) + b"two\nlines\n"
    assert journal.decode_entry(datagram) == [("MESSAGE", b"two\nlines")]


@pytest.mark.parametrize("name", ["_PID", "message", "", "A" * 65, "MPCPU-NAME"])
def test_a_field_name_journald_would_drop_is_refused(name):
    with pytest.raises(ValueError, match="not a journal field name"):
        journal.encode_entry([(name, "x")])


def test_encoding_round_trips_every_field_of_a_record():
    fields = journal.record_fields(RECORD, "mpcpu-a", "198.51.100.162")
    decoded = journal.decode_entry(journal.encode_entry(fields))
    assert decoded == [(name, journal._bytes(value)) for name, value in fields]


@pytest.fixture
def journal_socket(tmp_path):
    """A datagram socket where journald's would be, read as journald does, all the time (its
    queue holds only a few datagrams); yields (path, the entries received so far)."""
    path = str(tmp_path / "socket")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(0.05)
    entries, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                entries.append(dict(journal.decode_entry(server.recv(1 << 20))))
            except TimeoutError:
                continue

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    yield path, lambda: list(entries)
    stop.set()
    reader.join(5)
    server.close()


def _settled(received, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(received()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return received()


def test_the_sink_sends_one_datagram_per_record(journal_socket):
    path, received = journal_socket
    sink = journal.JournalSink("mpcpu-a", "198.51.100.162", path=path)
    lines = [b"%d 2026-11-24T12:00:0%d cpu-a ALARM\r\n" % (seq, seq) for seq in (1, 2, 3)]
    assert sink.send(lines) == 0
    sink.close()
    entries = _settled(received, 3)
    assert [entry["MPCPU_SEQ"] for entry in entries] == [b"1", b"2", b"3"]
    assert all(entry["MPCPU_NAME"] == b"mpcpu-a" for entry in entries)


def test_a_missing_journal_is_counted_and_logged_not_raised(tmp_path, caplog):
    sink = journal.JournalSink("mpcpu-a", "198.51.100.162", path=str(tmp_path / "absent"))
    assert sink.send([RECORD, RECORD]) == 2
    assert sink.failed == 2
    assert "2 record(s) did not reach the journal" in caplog.text


def test_the_collector_sends_nothing_to_the_journal_unless_told(tmp_path):
    config = collector.check_config(
        {"log_dir": str(tmp_path), "state_dir": str(tmp_path), "devices": []}
    )
    assert config["journal"] is False
    assert (
        collector.activity_journal(config, {"name": "a", "ip": "198.51.100.162"}).send([RECORD])
        == 0
    )


def test_journal_must_be_a_boolean(tmp_path):
    with pytest.raises(collector.ConfigError, match="journal: 'yes' must be true or false"):
        collector.check_config(
            {"log_dir": str(tmp_path), "state_dir": str(tmp_path), "devices": [], "journal": "yes"}
        )


async def _stream(total, dirs, journal_path, monkeypatch):
    """A device that replays lines 1..total on request; the collector with its journal on."""

    async def device(reader, writer):
        first = int((await reader.readline()).split()[1])
        for seq in range(first, total + 1):
            writer.write(b"%d 2026-11-24T12:00:00 cpu-a EVENT %d\r\n" % (seq, seq))
        await writer.drain()
        await reader.read()  # hold the connection, as a device does between records

    server = await asyncio.start_server(device, "127.0.0.1", 0)
    log_dir, state_dir = dirs
    config = collector.check_config(
        {
            "log_dir": str(log_dir),
            "state_dir": str(state_dir),
            "journal": True,
            "devices": [
                {"name": "mpcpu-a", "ip": "127.0.0.1", "port": server.sockets[0].getsockname()[1]}
            ],
        }
    )
    monkeypatch.syspath_prepend(str(FILES))
    monkeypatch.setattr(sys.modules.get("mpcpu_journal", journal), "JOURNAL_SOCKET", journal_path)
    files = collector.DeviceFiles(str(log_dir), str(state_dir), "127.0.0.1")
    task = asyncio.ensure_future(collector.Collector(config["devices"][0], files, config).run())
    try:
        for _attempt in range(3000):
            if files.last_seq >= total:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        files.close()
        server.close()
        await server.wait_closed()


def test_the_collector_journals_every_record_it_writes(tmp_path, journal_socket, monkeypatch):
    path, received = journal_socket
    dirs = (tmp_path / "log", tmp_path / "state")
    for directory in dirs:
        directory.mkdir()
    sys.modules.setdefault("mpcpu_journal", journal)  # the module the collector imports
    try:
        asyncio.run(_stream(120, dirs, path, monkeypatch))
    finally:
        sys.modules.pop("mpcpu_journal", None)
    (log_file,) = dirs[0].iterdir()
    written = log_file.read_bytes().splitlines()
    entries = _settled(received, 120)
    assert len(written) == 120
    assert [entry["MESSAGE"] for entry in entries] == written
    assert [entry["MPCPU_SEQ"] for entry in entries] == [b"%d" % seq for seq in range(1, 121)]
    assert {entry["MPCPU_ADDRESS"] for entry in entries} == {b"127.0.0.1"}


def test_rsyslog_forwards_the_entries_with_the_message_id_the_collector_writes():
    role_vars = (FILES.parent / "vars" / "main.yml").read_text()
    assert "__log_collector_message_id: %s\n" % journal.ACTIVITY_MESSAGE_ID in role_vars
