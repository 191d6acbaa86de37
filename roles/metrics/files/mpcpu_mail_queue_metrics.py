# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay's alarm-mail queue as Prometheus metrics: messages per queue and the oldest's age.

Reads ``postqueue -j`` (one JSON object per queued message, postfix 3.1 and later) and writes
``mpcpu_mail_queue.prom`` into node_exporter's textfile directory, atomically. Run by a
systemd timer. Standard library only, and prom_textfile from the collection.
"""

import argparse
import json
import subprocess
import sys
import time

PYTHON_LIBRARY = "/usr/local/lib/megapower-mpcpu"
QUEUES = ("active", "deferred", "hold", "incoming", "maildrop")
METRICS_FILE = "mpcpu_mail_queue.prom"


def queue_summary(lines, now):
    """{queue: (messages, age in seconds of the oldest or 0)} of postqueue -j's lines."""
    arrivals = dict((queue, []) for queue in QUEUES)
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        arrivals.setdefault(message["queue_name"], []).append(float(message["arrival_time"]))
    return dict(
        (queue, (len(times), max(0.0, now - min(times)) if times else 0.0))
        for queue, times in arrivals.items()
    )


def metric_families(prom_textfile, summary, success):
    family = prom_textfile.Family
    messages = family(
        "mpcpu_mail_queue_messages", "gauge", "Alarm mails in the relay's postfix queue, per queue."
    )
    oldest = family(
        "mpcpu_mail_queue_oldest_age_seconds",
        "gauge",
        "Age of the oldest mail in the queue (0 when it is empty).",
    )
    for queue in sorted(summary):
        messages.add({"queue": queue}, summary[queue][0])
        oldest.add({"queue": queue}, summary[queue][1])
    check = family(
        "mpcpu_mail_queue_check_success", "gauge", "1 when postqueue -j could be read."
    ).add({}, success)
    return [messages, oldest, check]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textfile-dir", required=True)
    parser.add_argument("--postqueue", default="/usr/sbin/postqueue")
    args = parser.parse_args(argv)
    sys.path.append(PYTHON_LIBRARY)
    import prom_textfile  # noqa: PLC0415 (installed by the metrics role)

    try:
        listing = subprocess.run(
            [args.postqueue, "-j"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        summary, success = queue_summary(listing.splitlines(), time.time()), True
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
        print("postqueue -j: %s" % error, file=sys.stderr)
        summary, success = {}, False
    text = prom_textfile.render(metric_families(prom_textfile, summary, success))
    prom_textfile.write_atomically(args.textfile_dir, METRICS_FILE, text)
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main())
