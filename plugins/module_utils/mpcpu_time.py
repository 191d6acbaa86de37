# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and set the MPCPU calendar time over TFTP (Appendix D row ``time_firmware``).

ASSUMPTION: no public document gives the MPCPU's time file. We assume a file called
``mpcpu_time.txt`` whose content is the UTC time as ASCII ``YYYY-MM-DDTHH:MM:SS`` and a newline;
a TFTP read returns the device clock, a TFTP write of the same format sets it. Both the name and
the format are parameters of the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import time

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp
from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import ClientError, sntp
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import checks
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

DEFAULT_TIME_FILE = "mpcpu_time.txt"
DEFAULT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
EXPLICIT_FORMAT = "%Y-%m-%dT%H:%M:%S"
SOURCES = ("controller", "explicit", "ntp")
STATES = ("set", "read")
UTC = datetime.timezone.utc
# A moment with a fractional second, to prove a format carries the time down to the second.
PROBE_EPOCH = 1795525323.25  # 2026-11-24T13:02:03.25Z
MAX_TEXT = 256


def iso(epoch, digits=0):
    """``epoch`` as ISO 8601 UTC text with a ``Z``."""
    moment = datetime.datetime.fromtimestamp(epoch, UTC)
    timespec = "milliseconds" if digits else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


class TimeFormat:
    """The text of the device's time file: render a moment, parse the device's answer."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.resolution = 1e-6 if "%f" in pattern else 1.0
        try:
            probe = self.parse(self.render(PROBE_EPOCH).encode("ascii"))
        except (ValueError, UnicodeError):
            probe = None
        if probe is None or not 0 <= PROBE_EPOCH - probe < self.resolution:
            raise MpcpuError(
                "time_format: %r does not render and parse back a UTC time to the second "
                "in ASCII" % pattern
            )

    def render(self, epoch):
        return datetime.datetime.fromtimestamp(epoch, UTC).strftime(self.pattern) + "\n"

    def parse(self, data):
        """Unix seconds from the bytes of the file; ValueError if they do not match."""
        moment = datetime.datetime.strptime(data.decode("ascii").strip(), self.pattern)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()


def parse_explicit(text):
    """Unix seconds of an explicit ``YYYY-MM-DDTHH:MM:SS`` UTC time (a trailing ``Z`` is fine)."""
    value = "" if text is None else str(text).strip()
    if value.endswith("Z"):
        value = value[:-1]
    try:
        moment = datetime.datetime.strptime(value, EXPLICIT_FORMAT)
    except ValueError:
        raise MpcpuError("time: %r is not YYYY-MM-DDTHH:MM:SS (UTC)" % (text,)) from None
    return moment.replace(tzinfo=UTC).timestamp()


class ReferenceClock:
    """The time the device should show, from the chosen source, as it advances."""

    def __init__(self, base_epoch=None, offset=0.0, wall=time.time, monotonic=time.monotonic):
        self._base_epoch = base_epoch
        self._offset = offset
        self._wall = wall
        self._monotonic = monotonic
        self._started = monotonic()

    def now(self):
        if self._base_epoch is not None:
            return self._base_epoch + (self._monotonic() - self._started)
        return self._wall() + self._offset


def drift(device_epoch, resolution, asked_at, answered_at):
    """Seconds the device is ahead (positive) or behind, from one read.

    The device answered somewhere between asking and answering, so compare with the midpoint;
    it truncates to ``resolution``, so its clock is on average half a step past what it shows.
    """
    return device_epoch + resolution / 2.0 - (asked_at + answered_at) / 2.0


def needs_setting(drift_seconds, tolerance):
    return abs(drift_seconds) > tolerance


def check_params(params):
    """The module parameters, checked and cleaned; MpcpuError names the bad field."""
    clean = dict(params)
    clean["host"] = checks.address(params["host"])
    clean["port"] = checks.port(params.get("port"), "port", "time_firmware")
    clean["time_file"] = checks.remote_name(params.get("time_file"), "time_file")
    clean["format"] = TimeFormat(params.get("time_format") or DEFAULT_TIME_FORMAT)
    clean["tolerance"] = checks.positive(params.get("tolerance"), "tolerance", 0, True)
    if clean["tolerance"] < clean["format"].resolution:
        raise MpcpuError(
            "tolerance: %r is below the resolution of time_format (%g s)"
            % (params.get("tolerance"), clean["format"].resolution)
        )
    clean["timeout"] = checks.positive(params.get("timeout"), "timeout")
    clean["retries"] = int(checks.positive(params.get("retries"), "retries", 0, True))
    clean["state"] = checks.choice(params.get("state"), "state", STATES)
    _check_source(params, clean)
    return clean


def _check_source(params, clean):
    source = checks.choice(params.get("source"), "source", SOURCES)
    if source == "explicit":
        if params.get("time") is None:
            raise MpcpuError("time: required when source is explicit")
        clean["explicit_epoch"] = parse_explicit(params["time"])
    elif params.get("time") is not None:
        raise MpcpuError("time: only used when source is explicit (source is %s)" % source)
    if source == "ntp":
        if not params.get("ntp_server"):
            raise MpcpuError("ntp_server: required when source is ntp")
        clean["ntp_server"] = checks.address(params["ntp_server"], "ntp_server")
        clean["ntp_port"] = checks.port(params.get("ntp_port"), "ntp_port", "ntp", "pc_port")
    elif params.get("ntp_server"):
        raise MpcpuError("ntp_server: only used when source is ntp (source is %s)" % source)


class DeviceClock:
    """The MPCPU's clock as seen through its time file."""

    def __init__(self, client, params, reference):
        self._client = client
        self._params = params
        self._reference = reference

    def _where(self):
        return "%s port %d" % (self._params["host"], self._params["port"])

    def read(self):
        """(device epoch, drift seconds) from one TFTP read of the time file."""
        content = io.BytesIO()
        asked_at = self._reference.now()
        try:
            self._client.read(self._params["time_file"], content)
        except tftp.TftpError as error:
            raise MpcpuError(
                "host: reading %s from %s failed: %s"
                % (self._params["time_file"], self._where(), error)
            ) from None
        answered_at = self._reference.now()
        data = content.getvalue()
        time_format = self._params["format"]
        try:
            device_epoch = time_format.parse(data[:MAX_TEXT])
        except (ValueError, UnicodeError):
            raise MpcpuError(
                "time_format: %s from %s reads %r, which does not match %r"
                % (self._params["time_file"], self._where(), data[:64], time_format.pattern)
            ) from None
        return device_epoch, drift(device_epoch, time_format.resolution, asked_at, answered_at)

    def write(self):
        """Write the reference time, rounded to the format's resolution; return the text."""
        time_format = self._params["format"]
        steps = round(self._reference.now() / time_format.resolution)
        text = time_format.render(steps * time_format.resolution)
        try:
            self._client.write(self._params["time_file"], io.BytesIO(text.encode("ascii")))
        except tftp.TftpError as error:
            raise MpcpuError(
                "host: writing %s to %s failed: %s"
                % (self._params["time_file"], self._where(), error)
            ) from None
        return text.strip()


def make_client(params, client_factory=None):
    """A TFTP client without options: the time file fits one block, so no OACK round trip."""
    return checks.new_client(
        client_factory or tftp.TftpClient,
        params["host"],
        port=params["port"],
        tsize=False,
        timeout=params["timeout"],
        retries=params["retries"],
    )


def ntp_offset(server, port, timeout, clock):
    """(offset, delay) of one SNTP query to the reference server; MpcpuError names the field."""
    try:
        answer = sntp.query(None, server, port=port, timeout=timeout, clock=clock)
    except ClientError as error:
        raise checks.MpcpuError("ntp_server: %s" % error) from None
    return answer["offset"], answer["delay"]


def make_reference(params, wall=time.time, monotonic=time.monotonic, ntp_query=ntp_offset):
    """(reference clock, NTP offset or None) for the chosen source."""
    if params["source"] == "explicit":
        return ReferenceClock(params["explicit_epoch"], wall=wall, monotonic=monotonic), None
    if params["source"] == "ntp":
        offset, _delay = ntp_query(
            params["ntp_server"], params["ntp_port"], params["timeout"], wall
        )
        return ReferenceClock(offset=offset, wall=wall, monotonic=monotonic), offset
    return ReferenceClock(wall=wall, monotonic=monotonic), None


def _report(params, reference, device_epoch, drift_seconds):
    return {
        "changed": False,
        "state": params["state"],
        "source": params["source"],
        "time_file": params["time_file"],
        "reference_time": iso(reference.now(), digits=3),
        "device_time_before": iso(device_epoch),
        "device_time_after": iso(device_epoch),
        "drift_seconds": round(drift_seconds, 3),
        "tolerance": params["tolerance"],
    }


def _set_and_verify(device, params, result):
    result["time_written"] = device.write()
    if not params.get("verify", True):
        result["device_time_after"] = result["time_written"] + "Z"
        return result
    device_epoch, drift_after = device.read()
    result["device_time_after"] = iso(device_epoch)
    result["diff"]["after"]["time"] = result["device_time_after"]
    result["drift_after_seconds"] = round(drift_after, 3)
    if needs_setting(drift_after, params["tolerance"]):
        raise MpcpuError(
            "host: %s is still %.3f s off after writing %s (tolerance %s s): the device did not "
            "take the time"
            % (params["host"], drift_after, params["time_file"], params["tolerance"]),
            result,
        )
    return result


def run(params, check_mode=False, client_factory=None, clocks=None):
    """Read the device time and, when ``state`` is set and it drifted too far, set it.

    The result carries ``diff`` ({before, after}); the module drops it unless --diff asked.
    ``clocks`` replaces (wall, monotonic, ntp_query) in tests.
    """
    clean = check_params(params)
    wall, monotonic, ntp_query = clocks or (time.time, time.monotonic, ntp_offset)
    reference, reference_offset = make_reference(clean, wall, monotonic, ntp_query)
    device = DeviceClock(make_client(clean, client_factory), clean, reference)
    device_epoch, drift_seconds = device.read()
    result = _report(clean, reference, device_epoch, drift_seconds)
    if reference_offset is not None:
        result["ntp_offset_seconds"] = round(reference_offset, 6)
    result["diff"] = {
        "before": {"time": result["device_time_before"]},
        "after": {"time": result["device_time_before"]},
    }
    if clean["state"] == "read" or not needs_setting(drift_seconds, clean["tolerance"]):
        return result
    result["changed"] = True
    result["diff"]["after"]["time"] = iso(reference.now())
    if check_mode:
        result["device_time_after"] = result["diff"]["after"]["time"]
        return result
    return _set_and_verify(device, clean, result)
