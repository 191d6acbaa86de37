# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe an MPCPU without changing it: an EASY CPU status request and the activity-log port.

Appendix D: the EASY CPU port "works as a server where each received request produces one or
more replies to the requesting client"; the activity-logging port accepts a TCP connection and
then streams log lines back on it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import time

from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import checks
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

DEFAULT_PAYLOAD = "STATUS\r\n"
# ASSUMED fields of a status reply (no public document gives the UDP 4001 payload): the
# running firmware version, and which CPU of a hot-standby pair runs the matrix.
DEFAULT_VERSION_REGEX = r"\bversion=(\S+)"
DEFAULT_SELECTED_REGEX = r"\brole=(\w+)"
DEFAULT_SELECTED_VALUE = "selected"
MAX_DATAGRAM = 65535
MAX_LINE = 4096


def check_params(params):
    """The module parameters, checked and cleaned; MpcpuError names the bad field."""
    clean = dict(params)
    clean["host"] = checks.address(params["host"])
    clean["easy_cpu_port"] = checks.port(params.get("easy_cpu_port"), "easy_cpu_port", "easy_cpu")
    clean["activity_log_port"] = checks.port(
        params.get("activity_log_port"), "activity_log_port", "activity_logging"
    )
    if not params.get("payload"):
        raise MpcpuError("payload: must not be empty")
    clean["payload"] = str(params["payload"]).encode("utf-8")
    clean["expect_replies"] = int(
        checks.positive(params.get("expect_replies"), "expect_replies", 0, True)
    )
    clean["timeout"] = checks.positive(params.get("timeout"), "timeout")
    clean["settle_time"] = checks.positive(params.get("settle_time"), "settle_time")
    defaults = {"version_regex": DEFAULT_VERSION_REGEX, "selected_regex": DEFAULT_SELECTED_REGEX}
    for field, default in defaults.items():
        clean[field] = _regex(params.get(field, default), field)
    request = params.get("activity_log_request")
    clean["activity_log_request"] = str(request).encode("utf-8") if request else b""
    return clean


def _regex(pattern, field):
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as error:
        raise MpcpuError(
            "%s: %r is not a regular expression: %s" % (field, pattern, error)
        ) from None
    if compiled.groups != 1:
        raise MpcpuError("%s: %r must have exactly one group, the value read" % (field, pattern))
    return compiled


def field_of(replies, compiled):
    """The value the first reply holding ``compiled`` gives it, or None."""
    for reply in replies if compiled else ():
        match = compiled.search(reply)
        if match:
            return match.group(1)
    return None


def reported(replies, params):
    """What the replies say: the running version and whether this CPU is the selected one
    (None for each the replies do not say)."""
    role = field_of(replies, params.get("selected_regex"))
    selected_value = params.get("selected_value") or DEFAULT_SELECTED_VALUE
    return {
        "version": field_of(replies, params.get("version_regex")),
        "role": role,
        "selected": None if role is None else role == selected_value,
    }


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _wait_for(replies, expect, deadline, settle_time, clock):
    """Seconds to wait for the next datagram: until the deadline, or a short quiet gap once
    enough replies are in (more may follow; the guide says "one or more")."""
    remaining = deadline - clock()
    if len(replies) >= max(expect, 1):
        remaining = min(remaining, settle_time)
    return remaining


def collect_replies(host, port, payload, *, expect, timeout, settle_time, clock=time.monotonic):
    """(replies as text, problem or None) for one request to the EASY CPU port."""
    sock = socket.socket(_family(host), socket.SOCK_DGRAM)
    replies = []
    problem = None
    try:
        # connect(): the kernel then drops datagrams that do not come from host:port
        sock.connect((host, port))
        sock.send(payload)
        deadline = clock() + timeout
        while True:
            wait = _wait_for(replies, expect, deadline, settle_time, clock)
            if wait <= 0:
                break
            sock.settimeout(wait)
            try:
                data = sock.recv(MAX_DATAGRAM)
            except socket.timeout:
                break
            replies.append(data.decode("utf-8", "replace").rstrip("\r\n"))
    except OSError as error:
        problem = error.strerror or str(error)
    finally:
        sock.close()
    return replies, problem


def _read_line(sock, timeout, clock=time.monotonic):
    deadline = clock() + timeout
    data = b""
    while b"\n" not in data and len(data) < MAX_LINE:
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(MAX_LINE)
        except socket.timeout:
            return None
        if not chunk:
            break
        data += chunk
    line = data.split(b"\n", 1)[0]
    return line.decode("utf-8", "replace").rstrip("\r") if data else None


def probe_activity_log(host, port, timeout, request=b"", read_line=False):
    """{reachable, first_line, error} for the activity-log TCP port."""
    outcome = {"port": port, "reachable": False, "first_line": None, "error": None}
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        outcome["error"] = error.strerror or str(error)
        return outcome
    try:
        outcome["reachable"] = True
        if request:
            sock.sendall(request)
        if read_line:
            outcome["first_line"] = _read_line(sock, timeout)
    except OSError as error:
        outcome["error"] = error.strerror or str(error)
    finally:
        sock.close()
    return outcome


def _check_activity_log(params, result):
    outcome = probe_activity_log(
        params["host"],
        params["activity_log_port"],
        params["timeout"],
        params["activity_log_request"],
        params.get("activity_log_read_line", False),
    )
    outcome["checked"] = True
    result["activity_log"] = outcome
    where = "%s port %d" % (params["host"], params["activity_log_port"])
    if not outcome["reachable"]:
        raise MpcpuError(
            "activity_log_port: TCP %s is not reachable: %s" % (where, outcome["error"]), result
        )
    if params.get("activity_log_read_line") and outcome["first_line"] is None:
        raise MpcpuError(
            "activity_log_read_line: no log line from TCP %s within %s s"
            % (where, params["timeout"]),
            result,
        )


def run(params, check_mode=False):
    """Probe the device; never changes it, so check mode does the same."""
    clean = check_params(params)
    replies, problem = collect_replies(
        clean["host"],
        clean["easy_cpu_port"],
        clean["payload"],
        expect=clean["expect_replies"],
        timeout=clean["timeout"],
        settle_time=clean["settle_time"],
    )
    result = {
        "changed": False,
        "replies": replies,
        "reply_count": len(replies),
        "reported": reported(replies, clean),
        "activity_log": {"port": clean["activity_log_port"], "checked": False},
    }
    if len(replies) < clean["expect_replies"]:
        raise MpcpuError(
            "expect_replies: %d of %d replies from UDP %s port %d within %s s%s"
            % (
                len(replies),
                clean["expect_replies"],
                clean["host"],
                clean["easy_cpu_port"],
                clean["timeout"],
                " (%s)" % problem if problem else "",
            ),
            result,
        )
    if clean.get("check_activity_log", True):
        _check_activity_log(clean, result)
    return result
