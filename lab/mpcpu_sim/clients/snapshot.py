"""Snapshot (row snapshot): the MPCPU uploads a camera JPEG to a PC's TFTP server (WRQ)."""

import datetime
import hashlib
import io
import os

from mpcpu_sim.clients import ClientError
from mpcpu_sim.clients.jpeg import make_jpeg
from mpcpu_sim.table import client_ports, tftp

UTC = datetime.timezone.utc


def snapshot_name(camera, moment):
    """``cam<NN>_<YYYYmmddTHHMMSS>.jpg``, the upload's file name."""
    return "cam%02d_%s.jpg" % (camera, moment.strftime("%Y%m%dT%H%M%S"))


def upload(
    source,
    server,
    *,
    port=None,
    camera=1,
    jpeg_path=None,
    name=None,
    blksize=None,
    windowsize=None,
    timeout=1.0,
    retries=5,
):
    """Upload one snapshot; {name, bytes, sha256, ...} or ClientError."""
    moment = datetime.datetime.now(UTC)
    name = name or snapshot_name(camera, moment)
    if jpeg_path:
        with open(jpeg_path, "rb") as handle:
            image = handle.read()
    else:
        comment = "MPCPU snapshot camera %d %s" % (camera, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        image = make_jpeg(camera, comment)
    source_port, table_port = client_ports("snapshot")
    port = port or table_port
    client = tftp.TftpClient(
        server,
        port=port,
        blksize=blksize,
        windowsize=windowsize,
        timeout=timeout,
        retries=retries,
        source_address=(source, source_port or 0),  # "any" in the table: ephemeral
    )
    try:
        result = client.write(name, io.BytesIO(image), size=len(image))
    except (tftp.TftpError, OSError) as error:
        message = "snapshot %s to %s port %d failed: %s" % (name, server, port, error)
        raise ClientError(message) from None
    return {
        "name": name,
        "bytes": result.bytes,
        "sha256": hashlib.sha256(image).hexdigest(),
        "server": "%s:%d" % (server, port),
        "source": source,
        "duration": round(result.duration, 3),
        "options": result.options,
        "jpeg": os.path.abspath(jpeg_path) if jpeg_path else "generated",
    }
