# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alarm relay's side of verify: follow the test mails the probes left with postfix until
they leave for the smarthost (or the maildir), name why one is deferred in postfix's own words,
and report the alarm mails waiting in the queue. Standard library only: runs on the relay."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import subprocess
import time
from datetime import datetime, timezone

QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]+)")
# What a deferral is about, first match wins: postfix's reasons name it in these words.
CAUSES = (
    ("authentication", ("sasl", "authentication", "535 ", "534 ", "530 ")),
    ("TLS", ("tls", "certificate", "ssl")),
    (
        "connection",
        ("connect to", "connection", "timed out", "unreachable", "no route", "host not found"),
    ),
)
POSTQUEUE = ["postqueue", "-j"]
# postfix logs through syslog: the journal, or rsyslog's mail.log where that runs.
JOURNAL = ["journalctl", "--no-pager", "-o", "cat", "--since", "-2h", "-t", "postfix/smtp"]
JOURNAL += ["-t", "postfix/local", "-t", "postfix/relay", "-t", "postfix/virtual"]
MAIL_LOG = "/var/log/mail.log"


def queue_id(detail):
    """The postfix queue ID in a probe's detail (``relay answered 250 2.0.0 Ok: queued as X``)."""
    match = QUEUED_AS.search(detail or "")
    return match.group(1) if match else None


def cause(reason):
    """TLS, authentication, connection or refused: what postfix's ``reason`` is about."""
    lowered = reason.lower()
    for name, words in CAUSES:
        if any(word in lowered for word in words):
            return name
    return "refused"


def parse_queue(text):
    """The messages of ``postqueue -j`` (one JSON object a line)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _reason(message):
    for recipient in message.get("recipients", ()):
        if recipient.get("delay_reason"):
            return recipient["delay_reason"]
    return None


def _utc(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def waiting(messages):
    """The mails waiting in the queue: how many, since when, and why the oldest waits."""
    if not messages:
        return {"count": 0, "since": None, "reason": None}
    oldest = min(messages, key=lambda message: message.get("arrival_time", 0))
    return {
        "count": len(messages),
        "since": _utc(oldest.get("arrival_time", 0)),
        "reason": _reason(oldest),
    }


def waiting_text(summary):
    if not summary["count"]:
        return "no mail waiting in the queue"
    text = "%d mail(s) waiting in the queue since %s" % (summary["count"], summary["since"])
    if summary["reason"]:
        text += " (%s: %s)" % (cause(summary["reason"]), summary["reason"])
    return text


def delivery(log_lines, qid):
    """The last delivery line the log holds for ``qid`` (``to=<..>, relay=.., status=..``)."""
    found = [line for line in log_lines if line.startswith(qid + ": to=") and "status=" in line]
    return found[-1] if found else None


def outcome(qid, messages, log_lines):
    """(done, passed, detail) for test mail ``qid`` now: still on its way, deferred, gone."""
    mine = [message for message in messages if message.get("queue_id") == qid]
    if mine:
        reason = _reason(mine[0])
        if reason:
            return True, False, "deferred (%s): %s" % (cause(reason), reason)
        return False, False, "still in the queue"
    line = delivery(log_lines, qid)
    if line is None:
        return True, True, "%s left the queue (no delivery line in the log)" % qid
    fields = line.split(": ", 1)[1]
    return True, "status=sent" in line, fields


class Postfix(object):
    """The queue and the log of the postfix on this host."""

    def queue(self):
        return parse_queue(
            subprocess.run(POSTQUEUE, capture_output=True, text=True, check=True).stdout
        )

    def log(self):
        try:
            done = subprocess.run(JOURNAL, capture_output=True, text=True, check=False)
            lines = done.stdout.splitlines()
        except OSError:
            lines = []
        try:
            with open(MAIL_LOG, encoding="utf-8", errors="replace") as handle:
                lines += [line.split("]: ", 1)[-1] for line in handle.read().splitlines()]
        except OSError:
            pass
        return lines


def follow(sent, postfix, timeout, sleep=time.sleep, clock=time.monotonic):
    """One verify result per test mail in ``sent`` (probe results), once each is delivered or
    deferred, or ``timeout`` seconds have passed."""
    pending = dict((queue_id(result.get("detail")), result) for result in sent)
    pending.pop(None, None)
    outcomes = {}
    deadline = clock() + timeout
    while True:
        messages, log_lines = postfix.queue(), postfix.log()
        for qid in list(pending):
            done, passed, detail = outcome(qid, messages, log_lines)
            if done or clock() >= deadline:
                outcomes[qid] = (passed, detail)
                del pending[qid]
        if not pending:
            break
        sleep(1)
    results = []
    for result in sent:
        qid = queue_id(result.get("detail"))
        passed, detail = outcomes.get(qid, (False, "no queue ID in the probe's answer"))
        results.append(
            {
                "mpcpu": result["mpcpu"],
                "row": result["row"],
                "pc_host": result.get("pc_host"),
                "passed": passed,
                "detail": "%s: test mail %s: %s" % (result.get("pc_host"), qid, detail),
            }
        )
    return results, waiting(messages)


def run(params, check_mode=False, postfix=None):
    postfix = postfix or Postfix()
    sent = [result for result in params["sent"] if result.get("passed")]
    if check_mode:
        sent = []
    results, summary = follow(sent, postfix, params["timeout"])
    queue_note = waiting_text(summary)
    for result in results:
        result["detail"] += "; " + queue_note
    return {
        "changed": False,
        "results": results,
        "waiting": summary,
        "msg": queue_note,
    }
