"""The simulator's pure parts, without sockets: ports, settings, faults, formats, the JPEG."""

import asyncio
import struct
import time

import pytest

from mpcpu_sim import activity_log, faults, settings
from mpcpu_sim.activity_log import ActivityLog, read_request
from mpcpu_sim.clients import jpeg
from mpcpu_sim.device import Clock, firmware_version
from mpcpu_sim.table import SERVED_ROWS, appendix_d, client_ports, server_ports
from mpcpu_sim.tftp_server import wire_block


def test_served_ports_are_the_tables_mpcpu_ports():
    assert server_ports() == {row: appendix_d.row(row).mpcpu_port for row in SERVED_ROWS}


def test_port_offset_and_exact_overrides():
    table = {row: appendix_d.row(row).mpcpu_port for row in SERVED_ROWS}
    ports = server_ports(20000, {"easy_cpu": 0})
    assert ports == {
        "time_firmware": table["time_firmware"] + 20000,
        "activity_logging": table["activity_logging"] + 20000,
        "easy_cpu": 0,
    }


def test_override_for_a_row_the_device_does_not_serve_is_refused():
    with pytest.raises(ValueError, match="alarm_email"):
        server_ports(overrides={"alarm_email": 2525})


@pytest.mark.parametrize("row_id", ["snapshot", "alarm_email", "ntp", "ip_assignment"])
def test_client_ports_come_from_the_table(row_id):
    row = appendix_d.row(row_id)
    assert client_ports(row_id) == (row.mpcpu_port, row.pc_port)


@pytest.mark.parametrize(
    ("number", "rollover", "wire"),
    [
        (1, 0, 1),
        (65535, 0, 65535),
        (65536, 0, 0),
        (65537, 0, 1),
        (131072, 0, 0),
        (65535, 1, 65535),
        (65536, 1, 1),
        (131070, 1, 65535),
        (131071, 1, 1),
    ],
)
def test_block_numbers_roll_over_to_0_or_1(number, rollover, wire):
    assert wire_block(number, rollover) == wire


def test_fault_spec_becomes_a_rule():
    rule = faults.parse_spec("drop:packet=data:nth=3,5:file=firmware.*")
    assert (rule.action, rule.packet, rule.nth, rule.file) == (
        "drop",
        "data",
        frozenset({3, 5}),
        "firmware.*",
    )
    assert rule.selects("tftp", "out", "data", index=5, filename="firmware.bin")
    assert not rule.selects("tftp", "out", "data", index=4, filename="firmware.bin")
    assert not rule.selects("tftp", "in", "data", index=5, filename="firmware.bin")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "action='explode'"),
        ("drop:packet=syn", "packet='syn'"),
        ("drop:service=easy_cpu:packet=data", "packet='data'"),
        ("drop:nth=three", "nth='three'"),
        ("drop:probability=2", "probability=2.0"),
        ("error:packet=data", "must be rrq or wrq"),
        ("drop:nth", "not KEY=VALUE"),
    ],
)
def test_bad_fault_specs_are_refused_naming_the_field(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        faults.parse_spec(spec)


def test_probability_with_a_seed_repeats_and_times_limits():
    rule = faults.parse_spec("drop:packet=data:probability=0.5:seed=4:times=10")

    def decisions():
        plan = faults.FaultPlan([rule], "cpu001", "127.0.0.2")
        return [plan.packet_fate("tftp", "out", "data").drop for _packet in range(200)]

    first = decisions()
    assert first == decisions()
    assert sum(first) == 10


def test_setting_precedence_file_defaults_then_command_line_then_device():
    document = {
        "defaults": {"rollover": 1, "easy_cpu_replies": 2, "log_rate": 1},
        "devices": [{"address": "127.0.9.1", "easy_cpu_replies": 7}, {"address": "127.0.9.2"}],
    }
    cli = settings.parse_assignments(["easy_cpu_replies=4", "log_rate=9"])
    first, second = settings.build_devices(document, cli_settings=cli)
    assert (first.rollover, first.easy_cpu_replies, first.log_rate) == (1, 7, 9.0)
    assert (second.name, second.easy_cpu_replies) == ("cpu002", 4)


def test_option_lists_and_address_ranges():
    assert settings.parse_assignments(["refuse_options=all"])["refuse_options"] == (
        settings.TFTP_OPTIONS
    )
    with pytest.raises(ValueError, match="unknown TFTP option"):
        settings.parse_assignments(["ignore_options=multicast"])
    expanded = settings.expand_addresses(["lobby=127.0.9.9", "127.0.9.254-127.0.10.1"], None)
    assert expanded == [
        ("lobby", "127.0.9.9"),
        (None, "127.0.9.254"),
        (None, "127.0.9.255"),
        (None, "127.0.10.0"),
        (None, "127.0.10.1"),
    ]


@pytest.mark.parametrize(
    ("header", "version"),
    [
        (b"MPCPU-FW 4.2\nbinary", "4.2"),
        (b"MPCPU-FW 5.0-rc1 \r\n", "5.0-rc1"),
        (b"MPCPU-FW \n", "unknown"),
        (b"MPCPU-FW 4.2", "unknown"),  # no end of line within the header
        (b"mpcpu-fw 4.2\n", "unknown"),
        (b"\x7fELF", "unknown"),
    ],
)
def test_firmware_version_comes_from_the_header_line(header, version):
    assert firmware_version(header) == version


def test_clock_refuses_bad_text_and_keeps_its_offset():
    clock = Clock(0.0, "%Y-%m-%dT%H:%M:%S")
    clock.set_from_text(b"2040-02-29T12:00:00\n")
    assert clock.iso().startswith("2040-02-29T12:00:0")
    offset = clock.offset
    for bad in (b"2040-02-30T12:00:00\n", b"2040-02-29T12:00:00\n\n", b"\xff"):
        with pytest.raises((ValueError, UnicodeError)):
            clock.set_from_text(bad)
    assert clock.offset == offset


class StoppedClock:
    """time as activity_log sees it, standing still: lines fall due only when a test says."""

    @staticmethod
    def monotonic():
        return 1000.0


def test_activity_log_makes_due_lines_on_demand_and_keeps_the_last_ones(monkeypatch):
    monkeypatch.setattr(activity_log, "time", StoppedClock)
    log = ActivityLog("cpu009", Clock(0.0, "%Y-%m-%dT%H:%M:%S"), rate=1000, capacity=100)
    log.started -= 2.0  # two seconds of lines are due: 2001
    log.catch_up()
    assert (log.first_seq(), log.last_seq) == (1902, 2001)
    lines = log.since(log.last_seq - 4)
    assert [seq for seq, _text in lines] == list(range(log.last_seq - 4, log.last_seq + 1))
    assert lines[0][1].endswith(b"\r\n") and b" cpu009 " in lines[0][1]
    assert log.seconds_until(log.last_seq + 1) <= 0.001 + 1 / 1000


@pytest.mark.parametrize(
    ("raw", "answer"),
    [(b"LOG 17\r\n", 17), (b"LOG 0\n", 1), (b"\r\n", None), (b"log 5\r\n", 5), (b"LOG\r\n", None)],
)
def test_collector_request_line(raw, answer):
    async def parse():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        return await read_request(reader, 1.0)

    assert asyncio.run(parse()) == answer


@pytest.mark.parametrize(
    ("raw", "answer"),
    [(b"GET LOG FROM 17\r\n", 17), (b"get log from\n", None), (b"\r\n", None)],
)
def test_collector_request_line_of_another_dialect(raw, answer):
    async def parse():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        return await read_request(reader, 1.0, "GET LOG FROM {seq}\r\n")

    assert asyncio.run(parse()) == answer


def test_a_request_of_the_default_dialect_is_refused_by_another():
    async def parse():
        reader = asyncio.StreamReader()
        reader.feed_data(b"LOG 1\r\n")
        return await read_request(reader, 1.0, "GET LOG FROM {seq}\r\n")

    with pytest.raises(activity_log.BadRequest, match="expected 'GET LOG FROM <next_seq>'"):
        asyncio.run(parse())


def _decode_dc_only(data):
    """(width, height, block levels) of a JPEG made by mpcpu_sim.clients.jpeg (DC-only)."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    position, tables, frame = 2, {}, None
    while True:
        marker = data[position + 1]
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        body = data[position + 4 : position + 2 + length]
        if marker == 0xC4:
            bits, symbols = body[1:17], body[17:]
            tables[body[0]] = {v: k for k, v in jpeg.huffman_codes(bits, symbols).items()}
        elif marker == 0xC0:
            frame = struct.unpack(">HH", body[1:5])
        elif marker == 0xDA:
            scan = data[position + 2 + length : -2].replace(b"\xff\x00", b"\xff")
            break
        position += 2 + length
    bits = "".join(format(byte, "08b") for byte in scan)
    height, width = frame
    levels, index, previous = [], 0, 0

    def symbol(table):
        nonlocal index
        for length in range(1, 17):
            found = table.get((int(bits[index : index + length], 2), length))
            if found is not None:
                index += length
                return found
        raise AssertionError("no Huffman code at bit %d" % index)

    for _block in range((width // 8) * (height // 8)):
        category = symbol(tables[0x00])
        difference = 0
        if category:
            raw = int(bits[index : index + category], 2)
            index += category
            difference = raw if raw >> (category - 1) else raw - (1 << category) + 1
        previous += difference
        levels.append(previous * jpeg.QUANT / 8 + 128)
        assert symbol(tables[0x10]) == 0x00  # end of block
    assert set(bits[index:]) <= {"1"} and len(bits) - index < 8  # only padding is left
    return width, height, levels


def test_generated_jpeg_decodes_to_its_blocks():
    width, height, levels = _decode_dc_only(jpeg.make_jpeg(5, "cam05", 64, 48))
    assert (width, height) == (64, 48)
    expected = jpeg._block_levels(64, 48, 5)
    assert all(abs(got - want) <= 1 for got, want in zip(levels, expected, strict=True))


def test_jpeg_size_must_be_whole_blocks():
    with pytest.raises(ValueError, match="multiples of 8"):
        jpeg.make_jpeg(1, "", 100, 48)


def test_activity_log_time_is_the_device_clock():
    clock = Clock(-86400.0, "%Y-%m-%dT%H:%M:%S")
    log = ActivityLog("cpu001", clock, rate=10, capacity=10)
    line = log.since(1)[0][1].decode("ascii")
    stamp = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 86400))
    assert line.split(" ")[1].startswith(stamp[:13])
