"""The device's TFTP server (row time_firmware): the time file, the firmware slot, options."""

import datetime
import hashlib
import io
import os
import socket

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp
from tests.unit.sim.conftest import read_file

UTC = datetime.timezone.utc
DEVICE = "127.0.3.1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def device_seconds(raw):
    """Unix seconds of a time file's content ``YYYY-MM-DDTHH:MM:SS\\n``."""
    assert raw.endswith(b"\n")
    moment = datetime.datetime.strptime(raw.decode("ascii")[:-1], "%Y-%m-%dT%H:%M:%S")
    return moment.replace(tzinfo=UTC).timestamp()


def version_file(client):
    text = read_file(client, "firmware.version").decode("ascii")
    assert text.endswith("\n")
    return dict(line.split("=", 1) for line in text.splitlines())


def raw_request(simulator, name, packet, timeout=5.0):
    """Send one hand-made request datagram; the first answer, decoded."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (simulator.address(name), simulator.port(name, "time_firmware")))
        data, _peer = sock.recvfrom(65536)
    return tftp.parse_packet(data)


@pytest.fixture
def simulator(start_simulator):
    return start_simulator("--address", "cpu001=%s" % DEVICE)


def test_time_read_returns_the_device_clock_in_utc(simulator):
    raw = read_file(simulator.tftp_client("cpu001"), "mpcpu_time.txt")
    assert len(raw) == len(b"2026-01-01T00:00:00\n")
    assert abs(device_seconds(raw) - datetime.datetime.now(UTC).timestamp()) < 5


def test_clock_offset_setting_moves_the_device_clock(start_simulator):
    simulator = start_simulator("--address", "cpu001=127.0.3.2", "--set", "clock_offset=7200")
    raw = read_file(simulator.tftp_client("cpu001"), "mpcpu_time.txt")
    assert abs(device_seconds(raw) - datetime.datetime.now(UTC).timestamp() - 7200) < 5


def test_time_write_sets_the_clock_and_a_read_returns_it(simulator):
    client = simulator.tftp_client("cpu001")
    client.write("mpcpu_time.txt", io.BytesIO(b"2031-05-06T07:08:09\n"))
    written = datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()
    assert 0 <= device_seconds(read_file(client, "mpcpu_time.txt")) - written <= 3
    assert simulator.wait_for(lambda status: status["devices"]["cpu001"]["clock"] >= "2031")


@pytest.mark.parametrize(
    "content",
    [b"garbage\n", b"2031-13-01T00:00:00\n", b"2031-05-06 07:08:09\n", b"", b"2031-05-06T07:08\n"],
)
def test_malformed_time_is_refused_and_the_clock_is_unchanged(simulator, content):
    client = simulator.tftp_client("cpu001")
    with pytest.raises(tftp.TftpRemoteError) as refused:
        client.write("mpcpu_time.txt", io.BytesIO(content))
    assert (refused.value.code, refused.value.message) == (tftp.ERR_UNDEFINED, "bad time format")
    now = datetime.datetime.now(UTC).timestamp()
    assert abs(device_seconds(read_file(client, "mpcpu_time.txt")) - now) < 5


def test_firmware_upload_fills_the_slot_and_version_file_reports_it(simulator):
    image = b"MPCPU-FW 4.2.1\n" + os.urandom(3 * 1024 * 1024 + 17)
    client = simulator.tftp_client("cpu001", blksize=1428, windowsize=8)
    result = client.write("firmware.bin", io.BytesIO(image))
    assert result.bytes == len(image)
    expected = {
        "version": "4.2.1",
        "sha256": hashlib.sha256(image).hexdigest(),
        "size": str(len(image)),
    }
    assert version_file(simulator.tftp_client("cpu001")) == expected
    firmware = simulator.wait_for(
        lambda status: status["devices"]["cpu001"]["firmware"]["size"] == len(image)
    )["devices"]["cpu001"]["firmware"]
    assert firmware["sha256"] == expected["sha256"]


def test_image_without_header_line_has_version_unknown(simulator):
    image = b"\x7fELF" + bytes(5000)
    simulator.tftp_client("cpu001").write("firmware.bin", io.BytesIO(image))
    assert version_file(simulator.tftp_client("cpu001"))["version"] == "unknown"


def test_fresh_slot_reports_configured_version_and_empty_digest(start_simulator):
    simulator = start_simulator("--address", "cpu001=127.0.3.3", "--set", "firmware_version=3.9")
    reported = version_file(simulator.tftp_client("cpu001"))
    assert reported == {"version": "3.9", "sha256": EMPTY_SHA256, "size": "0"}


@pytest.mark.parametrize("announce_size", [True, False])
def test_image_over_the_limit_is_disk_full_and_slot_unchanged(start_simulator, announce_size):
    simulator = start_simulator("--address", "cpu001=127.0.3.4", "--set", "firmware_limit=100000")
    client = simulator.tftp_client("cpu001", tsize=announce_size)
    with pytest.raises(tftp.TftpRemoteError) as refused:
        client.write("firmware.bin", io.BytesIO(b"MPCPU-FW 9.9\n" + bytes(200000)))
    assert refused.value.code == tftp.ERR_DISK_FULL
    reported = version_file(simulator.tftp_client("cpu001"))
    assert (reported["version"], reported["sha256"]) == ("4.0", EMPTY_SHA256)


@pytest.mark.parametrize(
    ("operation", "name", "code"),
    [
        ("read", "no-such-file", tftp.ERR_NOT_FOUND),
        ("write", "no-such-file", tftp.ERR_NOT_FOUND),
        ("read", "../mpcpu_time.txt", tftp.ERR_ACCESS),
        ("read", "/etc/passwd", tftp.ERR_ACCESS),
        ("write", "..\\firmware.bin", tftp.ERR_ACCESS),
        ("read", "firmware.bin", tftp.ERR_ACCESS),
        ("write", "firmware.version", tftp.ERR_ACCESS),
    ],
)
def test_other_names_are_refused(simulator, operation, name, code):
    client = simulator.tftp_client("cpu001")
    with pytest.raises(tftp.TftpRemoteError) as refused:
        if operation == "read":
            client.read(name, io.BytesIO())
        else:
            client.write(name, io.BytesIO(b"x"))
    assert refused.value.code == code


def test_netascii_mode_is_refused(simulator):
    answer = raw_request(
        simulator, "cpu001", tftp.pack_request(tftp.OP_RRQ, "mpcpu_time.txt", "netascii")
    )
    assert (answer.opcode, answer.error_code) == (tftp.OP_ERROR, tftp.ERR_ILLEGAL_OP)


def test_requested_options_are_acknowledged(simulator):
    client = simulator.tftp_client("cpu001", blksize=1024, windowsize=4, timeout_option=3)
    result = client.write("firmware.bin", io.BytesIO(bytes(10000)))
    assert result.options == {"blksize": 1024, "windowsize": 4, "timeout": 3, "tsize": 10000}


def test_refused_option_gets_error_8_and_plain_request_still_works(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.3.5", "--set", "refuse_options=blksize,windowsize"
    )
    request = tftp.pack_request(tftp.OP_RRQ, "mpcpu_time.txt", options={"blksize": 1024})
    answer = raw_request(simulator, "cpu001", request)
    assert (answer.opcode, answer.error_code) == (tftp.OP_ERROR, tftp.ERR_OPTIONS)
    # The project's client falls back to a request without options, which is served.
    result = simulator.tftp_client("cpu001", blksize=1024).read("mpcpu_time.txt", io.BytesIO())
    assert (result.bytes, result.options, result.blksize) == (20, {}, 512)
    counters = simulator.wait_for(
        lambda status: status["devices"]["cpu001"]["counters"].get("tftp_refused") == 2
    )["devices"]["cpu001"]["counters"]
    assert counters["tftp_completed"] == 1


def test_ignored_options_mean_no_oack_and_rfc1350_defaults(start_simulator):
    simulator = start_simulator("--address", "cpu001=127.0.3.6", "--set", "ignore_options=all")
    image = b"MPCPU-FW 5.0\n" + os.urandom(5000)
    client = simulator.tftp_client("cpu001", blksize=1024, windowsize=4)
    result = client.write("firmware.bin", io.BytesIO(image))
    assert (result.options, result.blksize, result.windowsize) == ({}, 512, 1)
    assert version_file(client)["sha256"] == hashlib.sha256(image).hexdigest()


def test_one_ignored_option_is_left_out_of_the_oack(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.3.7", "--set", "ignore_options=windowsize"
    )
    client = simulator.tftp_client("cpu001", blksize=1024, windowsize=4)
    result = client.write("firmware.bin", io.BytesIO(bytes(3000)))
    assert result.options == {"blksize": 1024, "tsize": 3000}


@pytest.mark.slow
def test_rollover_1_transfer_past_block_65535_completes(start_simulator):
    simulator = start_simulator("--address", "cpu001=127.0.3.8", "--set", "rollover=1")
    image = os.urandom(8 * 65536 + 100)  # 65549 blocks of 8 bytes: the numbers wrap
    client = simulator.tftp_client("cpu001", blksize=8, windowsize=64, rollover=1, retries=8)
    result = client.write("firmware.bin", io.BytesIO(image))
    assert result.blocks > 65536
    assert version_file(client)["sha256"] == hashlib.sha256(image).hexdigest()


@pytest.mark.slow
def test_rollover_1_device_refuses_a_client_that_wraps_to_0(start_simulator):
    simulator = start_simulator("--address", "cpu001=127.0.3.9", "--set", "rollover=1")
    image = os.urandom(8 * 65536 + 100)
    client = simulator.tftp_client("cpu001", blksize=8, windowsize=64, rollover=0, retries=8)
    with pytest.raises(tftp.TftpRemoteError, match="rolls block numbers over to 1") as refused:
        client.write("firmware.bin", io.BytesIO(image))
    assert refused.value.code == tftp.ERR_ILLEGAL_OP
    assert version_file(client)["sha256"] == EMPTY_SHA256
