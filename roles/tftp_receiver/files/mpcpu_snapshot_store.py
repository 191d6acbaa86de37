#!/usr/bin/python3
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot store: move each finished upload from tftpd-hpa's incoming tree into the store.

Run by mpcpu-snapshot-store.service (as the TFTP user). tftpd-hpa writes each MPCPU's
uploads into INCOMING/<address>/, read-only from creation (its umask), so it can never
reopen one to overwrite it. Every INTERVAL seconds this looks at those files:

- a file tftpd-hpa still holds its write lock on is a transfer in progress: left alone;
- an empty file is removed (an upload that sent no data holds no picture);
- a file whose last data came more than ABORTED_AFTER seconds before its transfer ended
  is removed: tftpd-hpa gives up on a silent client 63 retransmit timeouts after its last
  data, while a finished transfer ends right after its last block is written;
- anything else is linked into STORE/<address>/ under its own name, or, when that name is
  taken, under the name with the upload time and a counter added, then unlinked.

Files found at start, when it cannot be told when their transfer ended, are kept unless
empty. Standard library only.
"""

import argparse
import collections
import errno
import fcntl
import os
import stat
import struct
import sys
import time

# struct flock on Linux (x86_64, aarch64): type, whence, start, len, pid, padded to 32 bytes.
FLOCK = "=hh4xqqi4x"

Upload = collections.namedtuple("Upload", "device name path size mtime")


def log(message):
    print(message, flush=True)


def write_locked(fd):
    """True when another process holds a write lock on the open file ``fd`` (F_GETLK)."""
    query = struct.pack(FLOCK, fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
    answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    return struct.unpack(FLOCK, answer)[0] != fcntl.F_UNLCK


def look_at(path):
    """(size, mtime, in progress) of the regular file at ``path``, or None when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        return info.st_size, info.st_mtime, write_locked(fd)
    finally:
        os.close(fd)


def candidate_names(name, uploaded_at):
    """``name``, then ``name`` with the upload time (UTC), then with a counter as well."""
    yield name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    suffix = "." + suffix if suffix else ""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(uploaded_at))
    yield "%s-%s%s" % (stem, stamp, suffix)
    counter = 2
    while True:
        yield "%s-%s-%d%s" % (stem, stamp, counter, suffix)
        counter += 1


def store(path, store_dir, uploaded_at):
    """Link ``path`` into ``store_dir`` under a name nobody has taken; return that name."""
    for name in candidate_names(os.path.basename(path), uploaded_at):
        try:
            os.link(path, os.path.join(store_dir, name))
        except FileExistsError:
            continue
        os.unlink(path)
        return name
    raise AssertionError("unreachable: candidate_names never ends")


def verdict(size, mtime, ended_at, aborted_after):
    """What to do with a finished upload: "empty", "aborted" or "store"."""
    if size == 0:
        return "empty"
    if ended_at is not None and ended_at - mtime > aborted_after:
        return "aborted"
    return "store"


class Store:
    def __init__(self, incoming, store_root, aborted_after):
        self.incoming = incoming
        self.store_root = store_root
        self.aborted_after = aborted_after
        # (path, mtime) -> when the upload was first seen finished; None: found at start.
        self.ended = {}

    def uploads(self):
        """(device, name, path) of every file in the device directories of the incoming tree."""
        found = []
        with os.scandir(self.incoming) as devices:
            for device in devices:
                if not device.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(device.path) as entries:
                    found.extend(
                        (device.name, entry.name, entry.path)
                        for entry in entries
                        if entry.is_file(follow_symlinks=False)
                    )
        return found

    def sweep(self, first=False, now=None):
        """Handle every upload that is no longer being written."""
        now = time.time() if now is None else now
        finished = {}
        for device, name, path in self.uploads():
            seen = look_at(path)
            if seen is None or seen[2]:
                continue
            size, mtime, _ = seen
            # At start nobody saw the transfer end: keep what has data rather than guess.
            key = (path, mtime)
            finished[key] = self.ended.get(key, None if first else now)
            action = verdict(size, mtime, finished[key], self.aborted_after)
            if self.apply(action, Upload(device, name, path, size, mtime), now):
                del finished[key]
        self.ended = finished

    def apply(self, action, upload, now):
        """Store or remove one finished upload; False when it has to be tried again."""
        where = "%s/%s" % (upload.device, upload.name)
        if action == "store":
            try:
                stored = store(
                    upload.path, os.path.join(self.store_root, upload.device), upload.mtime
                )
            except OSError as error:
                log("cannot store %s (tried again): %s" % (where, error))
                return False
            log("stored %s as %s/%s (%d bytes)" % (where, upload.device, stored, upload.size))
            return True
        try:
            os.unlink(upload.path)
        except FileNotFoundError:
            return True
        if action == "empty":
            log("removed %s: the upload sent no data" % where)
        else:
            log(
                "removed %s: aborted upload (%d bytes, no data for %.0f s before it ended)"
                % (where, upload.size, now - upload.mtime)
            )
        return True


def positive_number(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("%s is not more than 0" % text)
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incoming", required=True, help="tftpd-hpa's root directory")
    parser.add_argument("--store", required=True, help="where snapshots are kept")
    parser.add_argument(
        "--aborted-after",
        type=positive_number,
        required=True,
        help="seconds from an upload's last data to its end beyond which it was aborted",
    )
    parser.add_argument("--interval", type=positive_number, default=0.5)
    args = parser.parse_args(argv)
    snapshot_store = Store(args.incoming, args.store, args.aborted_after)
    snapshot_store.sweep(first=True)
    while True:
        time.sleep(args.interval)
        try:
            snapshot_store.sweep()
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
            log("sweep: %s" % error)


if __name__ == "__main__":
    sys.exit(main())
