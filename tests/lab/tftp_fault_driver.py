"""Run inside a lab host: TFTP transfers with the collection's client, one JSON line each.

    python3 tftp_fault_driver.py write HOST SIZE SEED [blksize] [windowsize]
    python3 tftp_fault_driver.py read HOST NAME SHA256 [blksize] [windowsize]

``write`` uploads SIZE bytes (an MPCPU firmware header, then bytes from SEED) as firmware.bin
and reads firmware.version back; ``read`` downloads NAME. Either prints {ok, sha256, ...} or
{ok: false, error}: what the test needs to tell a clean failure from a silent corruption.
"""

import hashlib
import io
import json
import random
import sys

sys.path.insert(0, "/opt/megapower/collections")

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp  # noqa: E402


def client(host, blksize, windowsize):
    return tftp.TftpClient(
        host, blksize=blksize, windowsize=windowsize, timeout=0.5, retries=8, total_timeout=90
    )


def image(size, seed):
    filler = random.Random(seed).randbytes(size)
    return (b"MPCPU-FW fault-%d\n" % seed + filler)[:size]


def write(host, size, seed, blksize=None, windowsize=None):
    data = image(size, seed)
    try:
        result = client(host, blksize, windowsize).write(
            "firmware.bin", io.BytesIO(data), len(data)
        )
        report = io.BytesIO()
        client(host, None, None).read("firmware.version", report)
    except tftp.TftpError as error:
        return {"ok": False, "error": str(error)}
    fields = dict(line.split("=", 1) for line in report.getvalue().decode().split())
    return {
        "ok": True,
        "sent_sha256": hashlib.sha256(data).hexdigest(),
        "device_sha256": fields["sha256"],
        "retransmissions": result.retransmissions,
        "options": result.options,
    }


def read(host, name, sha256, blksize=None, windowsize=None):
    received = io.BytesIO()
    try:
        result = client(host, blksize, windowsize).read(name, received)
    except tftp.TftpError as error:
        return {"ok": False, "error": str(error)}
    return {
        "ok": True,
        "expected_sha256": sha256,
        "received_sha256": hashlib.sha256(received.getvalue()).hexdigest(),
        "retransmissions": result.retransmissions,
        "options": result.options,
    }


def main(argv):
    optional = [int(value) for value in argv[4:]] + [None, None]
    if argv[0] == "write":
        outcome = write(argv[1], int(argv[2]), int(argv[3]), *optional[:2])
    else:
        outcome = read(argv[1], argv[2], argv[3], *optional[:2])
    print(json.dumps(outcome))


if __name__ == "__main__":
    main(sys.argv[1:])
