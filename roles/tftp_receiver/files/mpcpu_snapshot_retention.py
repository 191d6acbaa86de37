# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot retention: delete what is older than the age limit, then the oldest beyond the size.

Run by mpcpu-snapshot-retention.service (as the TFTP user) on a timer. Looks at the regular
files one level down (one directory per MPCPU); symbolic links and deeper levels are never
followed. The size limit is for all MPCPUs together: the disk is what it protects.
Standard library only.
"""

import argparse
import os
import sys
import time

SECONDS_PER_DAY = 86400


def snapshots(root):
    """(mtime, size, path) of every regular file in the device directories under ``root``."""
    found = []
    with os.scandir(root) as devices:
        for device in devices:
            if not device.is_dir(follow_symlinks=False):
                continue
            with os.scandir(device.path) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        stat = entry.stat(follow_symlinks=False)
                        found.append((stat.st_mtime, stat.st_size, entry.path))
    return sorted(found)


def plan(files, now, max_age_days, max_bytes):
    """Split ``files`` (oldest first) into (too old, over the size limit, kept)."""
    cutoff = now - max_age_days * SECONDS_PER_DAY
    too_old = [item for item in files if item[0] < cutoff]
    young = [item for item in files if item[0] >= cutoff]
    total = sum(size for _mtime, size, _path in young)
    over_size = []
    while young and total > max_bytes:
        oldest = young.pop(0)
        over_size.append(oldest)
        total -= oldest[1]
    return too_old, over_size, young


def remove(items):
    removed_bytes = 0
    for _mtime, size, path in items:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed_bytes += size
    return removed_bytes


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("%s is not 1 or more" % text)
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", required=True, help="the receiver's root directory")
    parser.add_argument("--max-age-days", type=positive_int, required=True)
    parser.add_argument("--max-bytes", type=positive_int, required=True)
    args = parser.parse_args(argv)
    too_old, over_size, kept = plan(
        snapshots(args.directory), time.time(), args.max_age_days, args.max_bytes
    )
    print(
        "removed %d snapshot(s) older than %d day(s) (%d bytes), %d beyond %d bytes (%d bytes); "
        "kept %d (%d bytes)"
        % (
            len(too_old),
            args.max_age_days,
            remove(too_old),
            len(over_size),
            args.max_bytes,
            remove(over_size),
            len(kept),
            sum(size for _mtime, size, _path in kept),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
