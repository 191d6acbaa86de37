# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe Appendix D flows for real, from the side that starts each one.

A probe takes one flow of the site model (``row``, ``mpcpu``, ``mpcpu_ip``, ``pc_ip``,
``src_port``, ``dst_port``, ...) and returns ``{mpcpu, row, pc_host, passed, detail}``. The
PC-side probes (activity log, EASY CPU, reading the time) run on the PC host; the MPCPU-side
ones (snapshot, NTP, alarm e-mail, DHCP) run on a host that carries the MPCPU's address (the
lab's simulator host) and send from it. A probe never raises: a failure is a result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import re

from ansible_collections.megapower.mpcpu.plugins.module_utils import mpcpu_status, tftp
from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import (
    ClientError,
    dhcp,
    smtp_alarm,
    sntp,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError
from ansible_collections.megapower.mpcpu.plugins.module_utils.mpcpu_time import TimeFormat

UTC = datetime.timezone.utc
# The smallest well-formed JPEG a receiver would store: SOI, a comment, EOI.
PROBE_JPEG = b"\xff\xd8\xff\xfe\x00\x0fmpcpu verify\xff\xd9"
EXPECTED_ERRORS = (ClientError, MpcpuError, tftp.TftpError, OSError, ValueError)
# A log line as the collector takes it: ``<seq> <timestamp> <device> <event>``; anything else
# (an error line answering a request the device does not understand) is no log line.
LOG_LINE = re.compile(r"^\d+ \S")


class ProbeFailed(Exception):
    """The flow did not work; the message says what was seen."""


def _device_setting(flow, options, key, option):
    """The MPCPU's own setting ``key``, as the model gave its flow, else the module's option."""
    return (flow.get("device_protocol") or {}).get(key, options.get(option))


def _activity_log(flow, options):
    request = _device_setting(flow, options, "activity_log_request", "activity_log_request")
    outcome = mpcpu_status.probe_activity_log(
        flow["mpcpu_ip"],
        flow["mpcpu_port"],
        options["timeout"],
        mpcpu_status.activity_log_request(request) if request else b"",
        read_line=True,
    )
    if not outcome["reachable"]:
        raise ProbeFailed("no TCP connection: %s" % outcome["error"])
    if not outcome["first_line"]:
        raise ProbeFailed("connected, but no log line within %g s" % options["timeout"])
    if not LOG_LINE.match(outcome["first_line"]):
        raise ProbeFailed("connected, but no log line came: %s" % outcome["first_line"][:80])
    return "line: %s" % outcome["first_line"][:80]


def _easy_cpu(flow, options):
    payload = _device_setting(flow, options, "status_request", "easy_cpu_payload")
    replies, problem = mpcpu_status.collect_replies(
        flow["mpcpu_ip"],
        flow["mpcpu_port"],
        payload.encode(),
        expect=1,
        timeout=options["timeout"],
        settle_time=0.3,
    )
    if not replies:
        raise ProbeFailed(
            "no reply within %g s%s" % (options["timeout"], problem and ": " + problem or "")
        )
    return "%d reply(ies): %s" % (len(replies), replies[0][:60])


def _tftp_client(host, port, options, source_address=None):
    # A transfer is a few exchanges, each allowed the probe's timeout.
    return tftp.TftpClient(
        host,
        port=port,
        timeout=1.0,
        retries=3,
        total_timeout=options["timeout"] * 3,
        source_address=source_address,
    )


def _time_read(flow, options):
    client = _tftp_client(flow["mpcpu_ip"], flow["mpcpu_port"], options)
    content = io.BytesIO()
    client.read(_device_setting(flow, options, "time_file", "time_file"), content)
    time_format = _device_setting(flow, options, "time_format", "time_format")
    device_time = TimeFormat(time_format).parse(content.getvalue())
    moment = datetime.datetime.fromtimestamp(device_time, UTC)
    return "device time %s" % moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _snapshot(flow, options):
    name = "verify_%s_%s.jpg" % (
        flow["mpcpu"],
        datetime.datetime.now(UTC).strftime("%Y%m%dT%H%M%S"),
    )
    source = (flow["mpcpu_ip"], flow["mpcpu_port"] or 0)  # "any" in the table: ephemeral
    client = _tftp_client(flow["pc_ip"], flow["pc_port"], options, source)
    result = client.write(name, io.BytesIO(PROBE_JPEG), size=len(PROBE_JPEG))
    return "uploaded %s (%d bytes)" % (name, result.bytes)


def _ntp(flow, options):
    answer = sntp.query(
        flow["mpcpu_ip"],
        flow["pc_ip"],
        port=flow["pc_port"],
        source_port=flow["mpcpu_port"],
        timeout=options["timeout"],
    )
    return "stratum %d, offset %+.3f s" % (answer["stratum"], answer["offset"])


def _alarm_email(flow, options):
    sent = smtp_alarm.send(
        flow["mpcpu_ip"],
        flow["pc_ip"],
        flow["mpcpu"],
        0,
        port=flow["pc_port"],
        recipients=[options["alarm_recipient"]],
        timeout=options["timeout"] * 3,
    )
    return "relay answered %s" % sent["reply"][:60]


def _ip_assignment(flow, options):
    if not options.get("dhcp_interface"):
        raise ProbeFailed("dhcp_interface: give the interface facing the MPCPU network")
    lease = dhcp.lease(
        options["dhcp_interface"],
        flow["mpcpu_mac"],
        client_port=flow["mpcpu_port"],
        server_port=flow["pc_port"],
        timeout=options["timeout"],
        retries=1,
        # The probe host carries the MPCPU's address: send from it, as the device may when it
        # asks again, never from the host's own address, which the DHCP server refuses.
        source=flow["mpcpu_ip"],
    )
    if lease["acked"] != flow["mpcpu_ip"]:
        raise ProbeFailed("leased %s, not the reserved %s" % (lease["acked"], flow["mpcpu_ip"]))
    return "leased %s from %s" % (lease["acked"], lease["server_id"])


PROBES = {
    "activity_logging": _activity_log,
    "easy_cpu": _easy_cpu,
    "time_firmware": _time_read,
    "snapshot": _snapshot,
    "ntp": _ntp,
    "alarm_email": _alarm_email,
    "ip_assignment": _ip_assignment,
}
# Probes that leave something behind (a file, a mail, a lease): not run in check mode.
LEAVES_TRACES = ("snapshot", "alarm_email", "ip_assignment")


def probe(flow, options, check_mode=False):
    result = {"mpcpu": flow["mpcpu"], "row": flow["row"], "pc_host": flow.get("pc_host")}
    if check_mode and flow["row"] in LEAVES_TRACES:
        result.update(passed=False, detail="not probed in check mode")
        return result
    try:
        detail = PROBES[flow["row"]](flow, options)
    except (ProbeFailed,) + EXPECTED_ERRORS as error:
        result.update(passed=False, detail="%s: %s" % (flow["pc_host"], error))
    else:
        result.update(passed=True, detail="%s: %s" % (flow["pc_host"], detail))
    return result


def check_probes(probes):
    """Every probe names a known row and carries the fields its row needs."""
    for index, flow in enumerate(probes):
        where = "probes[%d]" % index
        if flow.get("row") not in PROBES:
            raise MpcpuError(
                "%s.row: %r is not an Appendix D row (known: %s)"
                % (where, flow.get("row"), ", ".join(PROBES))
            )
        for field in ("mpcpu", "mpcpu_ip", "pc_ip", "pc_host"):
            if not flow.get(field):
                raise MpcpuError("%s.%s: missing" % (where, field))
        if flow["row"] == "ip_assignment" and not flow.get("mpcpu_mac"):
            raise MpcpuError("%s.mpcpu_mac: the DHCP probe needs the MPCPU's MAC" % where)


def run(params, check_mode=False):
    check_probes(params["probes"])
    results = [probe(flow, params, check_mode) for flow in params["probes"]]
    failed = [result for result in results if not result["passed"]]
    return {
        "changed": False,
        "results": results,
        "failed_count": len(failed),
        "passed_count": len(results) - len(failed),
    }
