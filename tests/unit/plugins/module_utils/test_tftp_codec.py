"""TFTP packets: the bytes on the wire match RFC 1350/2347 and decode back to the same fields."""

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp


def test_opcodes_and_error_codes_have_the_rfc_numbers():
    opcodes = [tftp.OP_RRQ, tftp.OP_WRQ, tftp.OP_DATA, tftp.OP_ACK, tftp.OP_ERROR, tftp.OP_OACK]
    assert opcodes == [1, 2, 3, 4, 5, 6]
    codes = [
        tftp.ERR_UNDEFINED,
        tftp.ERR_NOT_FOUND,
        tftp.ERR_ACCESS,
        tftp.ERR_DISK_FULL,
        tftp.ERR_ILLEGAL_OP,
        tftp.ERR_UNKNOWN_TID,
        tftp.ERR_EXISTS,
        tftp.ERR_NO_USER,
        tftp.ERR_OPTIONS,
    ]
    assert codes == list(range(9))


def test_read_request_with_options_is_the_rfc_2347_layout():
    packet = tftp.pack_request(tftp.OP_RRQ, "fw.bin", options={"blksize": 1428, "tsize": 0})
    assert packet == b"\x00\x01fw.bin\x00octet\x00blksize\x001428\x00tsize\x000\x00"


def test_write_request_without_options_has_no_trailing_fields():
    assert tftp.pack_request(tftp.OP_WRQ, "a", mode="netascii") == b"\x00\x02a\x00netascii\x00"


def test_data_ack_error_oack_bytes():
    assert tftp.pack_data(1, b"xy") == b"\x00\x03\x00\x01xy"
    assert tftp.pack_data(65535, memoryview(b"")) == b"\x00\x03\xff\xff"
    assert tftp.pack_ack(0) == b"\x00\x04\x00\x00"
    assert tftp.pack_error(tftp.ERR_UNKNOWN_TID) == b"\x00\x05\x00\x05Unknown transfer ID\x00"
    assert tftp.pack_error(1, "no such file") == b"\x00\x05\x00\x01no such file\x00"
    assert tftp.pack_oack({"windowsize": 16}) == b"\x00\x06windowsize\x0016\x00"


@pytest.mark.parametrize(
    "packet",
    [
        tftp.pack_request(tftp.OP_RRQ, "dir/fw.bin", options={"blksize": 1428, "windowsize": 8}),
        tftp.pack_request(tftp.OP_WRQ, "snap.jpg", mode="OCTET"),
        tftp.pack_data(7, b"payload"),
        tftp.pack_data(8, b""),
        tftp.pack_ack(65535),
        tftp.pack_error(tftp.ERR_OPTIONS, "refused"),
        tftp.pack_oack({"blksize": 512, "tsize": 1234}),
    ],
)
def test_every_packet_round_trips(packet):
    decoded = tftp.parse_packet(packet)
    rebuilt = {
        tftp.OP_RRQ: lambda p: tftp.pack_request(p.opcode, p.filename, p.mode, p.options),
        tftp.OP_WRQ: lambda p: tftp.pack_request(p.opcode, p.filename, p.mode, p.options),
        tftp.OP_DATA: lambda p: tftp.pack_data(p.block, p.payload),
        tftp.OP_ACK: lambda p: tftp.pack_ack(p.block),
        tftp.OP_ERROR: lambda p: tftp.pack_error(p.error_code, p.message),
        tftp.OP_OACK: lambda p: tftp.pack_oack(p.options),
    }[decoded.opcode](decoded)
    assert rebuilt == packet.replace(b"OCTET", b"octet")


def test_request_fields_are_decoded_and_option_names_lowered():
    packet = tftp.parse_packet(b"\x00\x01fw.bin\x00Octet\x00BLKSIZE\x001468\x00tsize\x000\x00")
    assert packet.opcode == tftp.OP_RRQ
    assert (packet.filename, packet.mode) == ("fw.bin", "octet")
    assert packet.options == {"blksize": "1468", "tsize": "0"}
    assert packet.block is None and packet.payload is None


def test_data_and_error_fields():
    data = tftp.parse_packet(bytearray(b"\x00\x03\x01\x00abc"))
    assert (data.opcode, data.block, data.payload) == (tftp.OP_DATA, 256, b"abc")
    error = tftp.parse_packet(b"\x00\x05\x00\x02denied\x00")
    assert (error.error_code, error.message) == (tftp.ERR_ACCESS, "denied")


def test_error_without_final_nul_is_tolerated():
    assert tftp.parse_packet(b"\x00\x05\x00\x01gone").message == "gone"


def test_non_ascii_file_names_round_trip_byte_for_byte():
    raw = b"\x00\x02caf\xe9.bin\x00octet\x00"
    packet = tftp.parse_packet(raw)
    assert tftp.pack_request(packet.opcode, packet.filename, packet.mode) == raw


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"", "too short for an opcode"),
        (b"\x00", "too short for an opcode"),
        (b"\x00\x09abc", "unknown opcode 9"),
        (b"\x00\x01fw.bin\x00octet", "not NUL-terminated"),
        (b"\x00\x01fw.bin\x00", "needs a file name and a mode"),
        (b"\x00\x01fw.bin\x00octet\x00blksize\x00", "without a value"),
        (b"\x00\x03\x00", "DATA packet is too short"),
        (b"\x00\x04", "ACK packet is too short"),
        (b"\x00\x05\x00", "too short for an error code"),
        (b"\x00\x06blksize\x00512", "not NUL-terminated"),
        (b"\x00\x06\x00512\x00", "empty option name"),
    ],
)
def test_malformed_packets_are_refused_with_a_reason(data, complaint):
    with pytest.raises(tftp.TftpProtocolError, match=complaint):
        tftp.parse_packet(data)


def test_packers_refuse_what_cannot_be_encoded():
    with pytest.raises(tftp.TftpProtocolError, match="outside 0..65535"):
        tftp.pack_data(65536, b"")
    with pytest.raises(tftp.TftpProtocolError, match="NUL"):
        tftp.pack_request(tftp.OP_RRQ, "a\0b")
    with pytest.raises(tftp.TftpProtocolError, match="RRQ or WRQ"):
        tftp.pack_request(tftp.OP_DATA, "a")
    with pytest.raises(tftp.TftpProtocolError, match="needs a file name"):
        tftp.pack_request(tftp.OP_RRQ, "")


def test_errors_form_one_family_with_readable_messages():
    remote = tftp.TftpRemoteError(tftp.ERR_NOT_FOUND, "fw.bin")
    assert (remote.code, remote.message) == (1, "fw.bin")
    assert str(remote) == "peer sent ERROR 1 (File not found): fw.bin"
    for error in (tftp.TftpTimeout, tftp.TftpProtocolError, tftp.TftpRemoteError):
        assert issubclass(error, tftp.TftpError)


def test_server_lowers_blksize_and_windowsize_to_its_limits():
    requested = {"blksize": "9000", "windowsize": "64", "tsize": "0"}
    accepted = tftp.negotiate_options(requested, {"blksize": 1468, "windowsize": 16}, 10)
    assert accepted == {"blksize": 1468, "windowsize": 16}


def test_server_reports_the_file_size_of_a_read_and_echoes_a_writes_size():
    assert tftp.negotiate_options({"tsize": "0"}, file_size=4096) == {"tsize": 4096}
    assert tftp.negotiate_options({"tsize": "777"}) == {"tsize": 777}
    assert tftp.negotiate_options({"tsize": "0"}) == {}


def test_server_takes_the_timeout_as_asked_or_not_at_all():
    assert tftp.negotiate_options({"timeout": "3"}, {"timeout": 5}) == {"timeout": 3}
    assert tftp.negotiate_options({"timeout": "9"}, {"timeout": 5}) == {}


def test_server_leaves_out_unknown_and_out_of_range_options():
    requested = {
        "blksize": "4",
        "windowsize": "x",
        "timeout": "0",
        "multicast": "",
        "rollover": "0",
    }
    assert tftp.negotiate_options(requested) == {}


def test_server_with_default_limits_accepts_everything_the_rfcs_allow():
    requested = {"BLKSIZE": "65464", "windowsize": "65535", "timeout": "255", "tsize": "12"}
    assert tftp.negotiate_options(requested) == {
        "blksize": 65464,
        "windowsize": 65535,
        "timeout": 255,
        "tsize": 12,
    }


def test_option_values_are_checked_against_the_rfc_ranges():
    assert tftp.option_int({"blksize": " 1428"}, "blksize") == 1428
    assert tftp.option_int({}, "blksize") is None
    with pytest.raises(tftp.TftpProtocolError, match=r"blksize=65465 is outside 8..65464"):
        tftp.option_int({"blksize": "65465"}, "blksize")
    with pytest.raises(tftp.TftpProtocolError, match="not a whole number"):
        tftp.option_int({"tsize": "1e3"}, "tsize")
