# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import relay_queue

SENT = {
    "mpcpu": "lobby-cpu",
    "row": "alarm_email",
    "pc_host": "relay",
    "passed": True,
    "detail": "relay: relay answered 250 2.0.0 Ok: queued as 4F2A1B",
}
AUTH = (
    "SASL authentication failed; server 198.51.100.132[198.51.100.132] said: "
    "535 5.7.8 Error: authentication failed: authentication failure"
)


class FakePostfix(object):
    """A queue that changes as the relay's would, one look at a time."""

    def __init__(self, queues, log=()):
        self.queues = list(queues)
        self.lines = list(log)

    def queue(self):
        text = self.queues.pop(0) if len(self.queues) > 1 else self.queues[0]
        return relay_queue.parse_queue(text)

    def log(self):
        return self.lines


def _queued(qid, reason=None, arrival=1796650800):
    recipient = {"address": "desk@corp.example"}
    if reason:
        recipient["delay_reason"] = reason
    return json.dumps({"queue_id": qid, "arrival_time": arrival, "recipients": [recipient]})


def _run(postfix, timeout=5):
    clock = iter(range(1000))
    results, summary = relay_queue.follow(
        [SENT], postfix, timeout, sleep=lambda _s: None, clock=lambda: next(clock)
    )
    return results[0], summary


def test_a_mail_the_smarthost_took_passes_with_its_delivery_line():
    sent = (
        "4F2A1B: to=<desk@corp.example>, relay=mail[198.51.100.132]:587, status=sent (250 2.0.0 Ok)"
    )
    result, summary = _run(FakePostfix([_queued("4F2A1B"), ""], [sent]))
    assert result["passed"]
    assert "status=sent (250 2.0.0 Ok)" in result["detail"]
    assert summary["count"] == 0


@pytest.mark.parametrize(
    "reason, named",
    [
        (AUTH, "deferred (authentication): SASL"),
        ("Server certificate not verified", "deferred (TLS): "),
        ("TLS is required, but was not offered by host x[1.2.3.4]", "deferred (TLS): "),
        ("connect to x[198.51.100.132]:587: Connection refused", "deferred (connection): "),
    ],
)
def test_a_deferred_mail_fails_naming_postfix_reason(reason, named):
    result, summary = _run(FakePostfix([_queued("4F2A1B"), _queued("4F2A1B", reason)]))
    assert not result["passed"]
    assert named in result["detail"]
    assert summary == {"count": 1, "since": "2026-12-07T13:40:00Z", "reason": reason}
    assert "1 mail(s) waiting in the queue since 2026-12-07T13:40:00Z" in relay_queue.waiting_text(
        summary
    )


def test_a_mail_still_queued_when_time_is_up_fails():
    result, _summary = _run(FakePostfix([_queued("4F2A1B")]), timeout=3)
    assert not result["passed"]
    assert result["detail"].endswith("still in the queue")


def test_a_bounced_mail_fails():
    bounced = "4F2A1B: to=<x@corp.example>, relay=m[1.2.3.4]:587, status=bounced (550 5.7.1 no)"
    result, _summary = _run(FakePostfix([""], [bounced]))
    assert not result["passed"]
    assert "status=bounced" in result["detail"]


def test_check_mode_follows_nothing_and_reports_the_queue():
    postfix = FakePostfix([_queued("AAAA", AUTH)])
    result = relay_queue.run({"sent": [SENT], "timeout": 1}, check_mode=True, postfix=postfix)
    assert result["results"] == []
    assert result["waiting"]["count"] == 1
