# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot store: move each finished upload from tftpd-hpa's incoming tree into the store.

Run by mpcpu-snapshot-store.service (as the TFTP user). tftpd-hpa writes each MPCPU's
uploads into INCOMING/<address>/, read-only from creation (its umask), so it can never
reopen one to overwrite it, and in 512-byte blocks (it refuses the blksize options), so
every block but the last of a finished upload is 512 bytes. tftpd-hpa holds a write lock
on the file for the whole transfer; a finished upload is closed by tftpd-hpa, which then
waits for a retransmitted last block before it exits, while an aborted one (silent
client, ICMP error, TFTP ERROR, full disk) is closed by the exit. Every INTERVAL seconds
this looks at the incoming files:

- locked: a transfer in progress, left alone (the lock holder's process id is noted);
- empty: removed (an upload that sent no data holds no picture);
- a size that is not a multiple of 512: finished (its last block was short): stored;
- a multiple of 512 whose writer was seen and still runs: closed before the exit, so
  finished (its last block was empty): stored;
- a multiple of 512 whose writer was seen and is gone: aborted: removed;
- a multiple of 512 never seen locked (found at start, or begun and ended between two
  looks): it cannot be told, so it is kept: stored.

Stored means linked into STORE/<address>/ under its own name or, when that name is taken,
under the name with the upload time and a counter added, then unlinked. Standard library.
"""

import argparse
import collections
import contextlib
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


BLOCK = 512


def write_lock_holder(fd):
    """The process id holding a write lock on the open file ``fd`` (F_GETLK), or None."""
    query = struct.pack(FLOCK, fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
    lock_type, _whence, _start, _length, pid = struct.unpack(
        FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query)
    )
    return None if lock_type == fcntl.F_UNLCK else pid


def running(pid):
    return os.path.exists("/proc/%d" % pid)


def look_at(path):
    """(size, mtime, lock holder or None) of the regular file at ``path``; None when gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        return info.st_size, info.st_mtime, write_lock_holder(fd)
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


def verdict(size, writer):
    """What to do with an upload tftpd-hpa no longer writes: "empty", "aborted" or "store".

    ``writer``: the process id seen holding its lock, or None when it was never seen locked.
    """
    if size == 0:
        return "empty"
    if size % BLOCK or writer is None or running(writer):
        return "store"
    return "aborted"


class SnapshotStats:
    """What the metrics say per MPCPU: snapshots stored, the last one's time and size, refusals."""

    def __init__(self, names):
        self.names = dict(names)  # address -> the MPCPU's inventory name
        self.stored = collections.Counter()
        self.last = {}  # address -> (mtime, bytes)
        self.refused = collections.Counter()  # (address, reason)

    def scan(self, store_root):
        """The newest snapshot already in each MPCPU's store, so a restart keeps its time."""
        for address in self.names:
            with (
                contextlib.suppress(OSError),
                os.scandir(os.path.join(store_root, address)) as found,
            ):
                files = [entry.stat() for entry in found if entry.is_file(follow_symlinks=False)]
                if files:
                    newest = max(files, key=lambda info: info.st_mtime)
                    self.last[address] = (newest.st_mtime, newest.st_size)

    def note(self, action, upload):
        if action == "store":
            self.stored[upload.device] += 1
            self.last[upload.device] = (upload.mtime, upload.size)
        else:
            self.refused[(upload.device, action)] += 1

    def families(self, prom_textfile):
        family = prom_textfile.Family
        stored = family(
            "mpcpu_snapshots_stored_total", "counter", "Snapshots stored since the store started."
        )
        last = family(
            "mpcpu_snapshot_last_stored_timestamp_seconds",
            "gauge",
            "When the newest stored snapshot was written (Unix time).",
        )
        size = family("mpcpu_snapshot_last_bytes", "gauge", "Size of the newest stored snapshot.")
        refused = family(
            "mpcpu_snapshot_uploads_refused_total",
            "counter",
            "Uploads removed instead of stored (reason: empty, aborted) since the store started.",
        )
        addresses = sorted(set(self.names) | set(self.stored) | set(a for a, _r in self.refused))
        for address in addresses:
            labels = {"mpcpu": self.names.get(address, address), "address": address}
            stored.add(labels, self.stored[address])
            if address in self.last:
                last.add(labels, self.last[address][0])
                size.add(labels, self.last[address][1])
            for reason in ("empty", "aborted"):
                refused.add(dict(labels, reason=reason), self.refused[(address, reason)])
        return [stored, last, size, refused]


class Store:
    def __init__(self, incoming, store_root, stats=None):
        self.incoming = incoming
        self.store_root = store_root
        self.stats = stats
        # path -> the process id seen holding its write lock (the transfer in progress)
        self.writers = {}
        # path -> the verdict on an upload that could not be stored yet
        self.retry = {}

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

    def sweep(self):
        """Note who writes what; store or remove every upload no longer being written."""
        writers, retry = {}, {}
        for device, name, path in self.uploads():
            seen = look_at(path)
            if seen is None:
                continue
            size, mtime, holder = seen
            if holder is not None:
                writers[path] = holder
                continue
            action = self.retry.get(path) or verdict(size, self.writers.get(path))
            upload = Upload(device, name, path, size, mtime)
            if not self.apply(action, upload):
                retry[path] = action
            elif self.stats is not None:
                self.stats.note(action, upload)
        self.writers, self.retry = writers, retry

    def apply(self, action, upload):
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
            log("removed %s: aborted upload (%d bytes)" % (where, upload.size))
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
        "--interval",
        type=positive_number,
        default=0.25,
        help="seconds between two looks; well below tftpd-hpa's retransmit timeout",
    )
    parser.add_argument("--metrics-dir", help="node_exporter's textfile directory")
    parser.add_argument("--metrics-interval", type=positive_number, default=15.0)
    parser.add_argument(
        "--device", action="append", default=[], metavar="NAME=ADDRESS", help="an MPCPU's name"
    )
    args = parser.parse_args(argv)
    stats = None
    if args.metrics_dir:
        stats = SnapshotStats(device.split("=", 1)[::-1] for device in args.device)
        stats.scan(args.store)
    snapshot_store = Store(args.incoming, args.store, stats)
    metrics_due = 0.0
    while True:
        try:
            snapshot_store.sweep()
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
            log("sweep: %s" % error)
        if stats is not None and time.monotonic() >= metrics_due:
            write_metrics(args.metrics_dir, stats)
            metrics_due = time.monotonic() + args.metrics_interval
        time.sleep(args.interval)


METRICS_FILE = "mpcpu_snapshots.prom"
# Where the collection's roles install prom_textfile.py (plugins/module_utils) on a host.
PYTHON_LIBRARY = "/usr/local/lib/megapower-mpcpu"


def write_metrics(directory, stats):
    if PYTHON_LIBRARY not in sys.path:
        sys.path.append(PYTHON_LIBRARY)
    import prom_textfile  # noqa: PLC0415 (installed beside the store only with metrics on)

    try:
        prom_textfile.write_atomically(
            directory, METRICS_FILE, prom_textfile.render(stats.families(prom_textfile))
        )
    except OSError as error:
        log("metrics: %s" % error)


if __name__ == "__main__":
    sys.exit(main())
