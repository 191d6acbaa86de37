# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device-side protocol the collection assumes, settable for the site and per MPCPU.

No public document gives the MPCPU's time file, its firmware and version files, or what its
EASY CPU status port (UDP 4001) answers. Each guess is a setting with a default here:
``mpcpu_site.device_protocol`` changes it for the whole site, an MPCPU's host variable
``mpcpu_device_protocol`` for that CPU alone. Every play and role that talks to a device
passes the CPU's merged settings (the model's ``Device.protocol``), and the simulator plays
the same keys, so a site that learns the real format changes one setting.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.megapower.mpcpu.plugins.module_utils import (
    appendix_d,
    mpcpu_firmware,
    mpcpu_time,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import checks
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.fields import (
    as_mapping,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    host_vars_of,
)

_text = appendix_d.value_text

SITE_FIELD = "device_protocol"
HOST_KEY = "mpcpu_device_protocol"

# Each assumption and its default: what the modules assumed before they were settings.
DEFAULTS = {
    "time_file": mpcpu_time.DEFAULT_TIME_FILE,
    "time_format": mpcpu_time.DEFAULT_TIME_FORMAT,
    "firmware_file": mpcpu_firmware.DEFAULT_REMOTE_FILE,
    "firmware_version_file": mpcpu_firmware.DEFAULT_VERSION_FILE,
    "firmware_version_regex": mpcpu_firmware.DEFAULT_VERSION_REGEX,
    "firmware_sha256_regex": mpcpu_firmware.DEFAULT_SHA256_REGEX,
    # Lock-step unless a site knows its CPUs' TFTP server takes RFC 7440 windows: an old
    # server may refuse a request with an option it does not know.
    "firmware_blksize": mpcpu_firmware.DEFAULT_BLKSIZE,
    "firmware_windowsize": 1,
    "status_request": "STATUS\r\n",
    "status_version_regex": r"\bversion=(\S+)",
    "status_selected_regex": r"\brole=(\w+)",
    "status_selected_value": "selected",
    "activity_log_request": "LOG {seq}\r\n",
    "restart_timeout": 300,
}

KEYS = tuple(sorted(DEFAULTS))

# The settings a row's PC-side clients send or read (verify's probes, the log collector): each
# flow of the row carries its MPCPU's values (``Flow.device_protocol``), worked out once here.
ROW_KEYS = {
    "activity_logging": ("activity_log_request",),
    "easy_cpu": ("status_request",),
    "time_firmware": ("time_file", "time_format"),
}

FILE_KEYS = ("time_file", "firmware_file", "firmware_version_file")
REGEX_KEYS = (
    "firmware_version_regex",
    "firmware_sha256_regex",
    "status_version_regex",
    "status_selected_regex",
)
TEXT_KEYS = ("status_request", "status_selected_value")
# TFTP options the firmware transfer asks for, and their ranges (RFC 2348, RFC 7440).
COUNT_RANGES = {
    "firmware_blksize": (mpcpu_firmware.MIN_BLKSIZE, mpcpu_firmware.MAX_BLKSIZE),
    "firmware_windowsize": (1, mpcpu_firmware.MAX_WINDOWSIZE),
}


# Who sends or reads each setting: the port matrix says it beside the value.
USED_BY = {
    "time_file": "devices (time), verify (time/firmware row)",
    "time_format": "devices (time), verify (time/firmware row)",
    "firmware_file": "devices (firmware)",
    "firmware_version_file": "devices (firmware)",
    "firmware_version_regex": "devices (firmware)",
    "firmware_sha256_regex": "devices (firmware)",
    "firmware_blksize": "devices (firmware)",
    "firmware_windowsize": "devices (firmware)",
    "status_request": "devices (firmware order), verify (EASY CPU row)",
    "status_version_regex": "devices (firmware order and restart)",
    "status_selected_regex": "devices (firmware order)",
    "status_selected_value": "devices (firmware order)",
    "activity_log_request": "log collector, verify (activity logging row)",
    "restart_timeout": "devices (firmware)",
}


def _value_problem(key, value):
    """Why ``value`` cannot be the setting ``key``, or None."""
    if key == "restart_timeout":
        return _seconds_problem(value)
    if key in COUNT_RANGES:
        return _count_problem(value, *COUNT_RANGES[key])
    return _text_problem(key, value)


def _text_problem(key, value):
    if not isinstance(value, str):
        return "%s is not a string" % _text(value)
    try:
        if key in FILE_KEYS:
            checks.remote_name(value, key)
        elif key == "time_format":
            mpcpu_time.TimeFormat(value)
    except checks.MpcpuError as error:
        return str(error).split(": ", 1)[1]
    if key in REGEX_KEYS:
        return _regex_problem(value)
    if key in TEXT_KEYS and not value:
        return "must not be empty"
    return None


def _seconds_problem(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return "%s is not a number of seconds above 0" % _text(value)
    return None


def _count_problem(value, lowest, highest):
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        return "%s is not a whole number from %d to %d" % (_text(value), lowest, highest)
    return None


def _regex_problem(pattern):
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        return "%s is not a regular expression: %s" % (_text(pattern), error)
    if compiled.groups != 1:
        return "%s must have exactly one group, the value read" % _text(pattern)
    return None


def _checked(where, field, given, problems):
    """The valid settings of ``given`` (a mapping), with a problem for each bad one."""
    if given is None:
        return {}
    if as_mapping(given) is None:
        problems.add(where, field, "must be a mapping of device-protocol settings")
        return {}
    valid = {}
    for key in sorted(given, key=str):
        if key not in DEFAULTS:
            problems.add(where, "%s.%s" % (field, key), "unknown key (known: %s)" % ", ".join(KEYS))
            continue
        message = _value_problem(key, given[key])
        if message:
            problems.add(where, "%s.%s" % (field, key), message)
        else:
            valid[key] = given[key]
    return valid


def check_site_protocol(site, problems):
    """The site-wide settings: the defaults with ``mpcpu_site.device_protocol`` over them."""
    merged = dict(DEFAULTS)
    merged.update(_checked("mpcpu_site", SITE_FIELD, site.get(SITE_FIELD), problems))
    return merged


def set_device_protocols(site_protocol, names, devices, hostvars, problems):
    """Check every MPCPU's own settings (``names``: group mpcpu) and give each valid device
    its ``protocol``: the site's settings with its own over them."""
    own = dict(
        (name, _checked(name, HOST_KEY, host_vars_of(hostvars, name).get(HOST_KEY), problems))
        for name in sorted(names)
    )
    for device in devices:
        device["protocol"] = dict(site_protocol, **own.get(device["name"], {}))


def flow_settings(row_id, device):
    """What a flow of row ``row_id`` to ``device`` needs of its device-side settings."""
    return dict((key, device["protocol"][key]) for key in ROW_KEYS.get(row_id, ()))
