"""Our TFTP client against independent servers (atftpd, tftpd-hpa, tftpy) on loopback.

Every transfer is checked by the sha256 of the bytes on the other side.
"""

import hashlib
import io
import random
import time

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp

pytestmark = pytest.mark.interop

BIG = 32 * 1024 * 1024 + 3000  # over 32 MiB: 65,542 blocks of 512 bytes, so numbers wrap


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def big_file():
    return random.Random(32).randbytes(BIG)


def client(server, **options):
    options.setdefault("timeout", 1.0)
    options.setdefault("total_timeout", 120)
    return tftp.TftpClient(server.host, server.port, **options)


def stored(server, name, expected_digest, within=10.0):
    """The sha256 of the server's copy, once it matches or ``within`` seconds have passed.

    A server acknowledges the last block before it has written and closed the file, so the
    copy may still be short for a moment after the client returns.
    """
    deadline = time.monotonic() + within
    while True:
        digest = sha256(server.path(name).read_bytes())
        if digest == expected_digest or time.monotonic() > deadline:
            return digest
        time.sleep(0.05)


def round_trip(server, data, name, source=None, **options):
    """Write ``data`` as ``name`` (from memory, or from the file ``source`` holding it), check
    the server's copy, read it back; both results."""
    if source is None:
        sent = client(server, **options).write(name, io.BytesIO(data))
    else:
        with source.open("rb") as stream:
            sent = client(server, **options).write(name, stream)
    assert stored(server, name, sha256(data)) == sha256(data)
    back = io.BytesIO()
    fetched = client(server, **options).read(name, back)
    assert sha256(back.getvalue()) == sha256(data)
    return sent, fetched


def test_write_and_read_without_options(server):
    data = random.Random(1).randbytes(100 * 1024 + 1)
    sent, fetched = round_trip(server, data, "plain.bin", tsize=False)
    for result in (sent, fetched):
        assert (result.options, result.blksize, result.windowsize) == ({}, 512, 1)
        assert (result.bytes, result.blocks) == (len(data), 201)


def test_write_and_read_with_options(server):
    data = random.Random(2).randbytes(300 * 1024 + 5)
    asked = {"blksize": 1428, "windowsize": 8}
    if server.supports["timeout"]:
        asked["timeout_option"] = 3
    sent, fetched = round_trip(server, data, "options.bin", **asked)
    windowsize = 8 if server.supports["windowsize"] else 1
    for result in (sent, fetched):
        assert (result.blksize, result.windowsize) == (1428, windowsize)
        assert result.bytes == len(data)
        assert result.options.get("timeout") == asked.get("timeout_option")
    assert fetched.options["tsize"] == len(data)  # a read learns the size from the server


def test_file_of_whole_blocks(server):
    data = random.Random(3).randbytes(1428 * 4)
    sent, fetched = round_trip(server, data, "whole.bin", blksize=1428)
    assert sent.blocks == fetched.blocks == 5  # the empty fifth block ends the transfer


def test_missing_file_is_reported_with_the_servers_error(server):
    with pytest.raises(tftp.TftpRemoteError) as caught:
        client(server).read("no-such-file.bin", io.BytesIO())
    assert caught.value.code == tftp.ERR_NOT_FOUND


def test_ipv6_write_and_read_with_tftpd_hpa(tftpd_hpa_ipv6):
    data = random.Random(4).randbytes(50 * 1024)
    sent, fetched = round_trip(tftpd_hpa_ipv6, data, "v6.bin", blksize=1024)
    assert sent.blksize == fetched.blksize == 1024


@pytest.mark.slow
@pytest.mark.parametrize("server_name", ["atftpd", "tftpd_hpa"])
def test_over_32_mib_at_512_byte_blocks_wraps_block_numbers(
    request, server_name, big_file, tmp_path
):
    server = request.getfixturevalue(server_name)
    source = tmp_path / "big.bin"  # from disk: lock-step reads it ahead with preadv
    source.write_bytes(big_file)
    sent, fetched = round_trip(server, big_file, "big.bin", source, tsize=False, total_timeout=300)
    assert sent.blocks == fetched.blocks == BIG // 512 + 1 > 65535
    assert sent.retransmissions + fetched.retransmissions < 100
