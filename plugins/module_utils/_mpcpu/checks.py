# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument checks shared by the mpcpu_* modules.

Each check returns the cleaned value or raises :class:`MpcpuError` whose message starts with
the name of the bad field, so the module can hand it to ``fail_json`` unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d


class MpcpuError(Exception):
    """A device operation cannot go on; ``result`` holds what was learned before it stopped."""

    def __init__(self, message, result=None):
        super(MpcpuError, self).__init__(message)
        self.result = dict(result or {})


def address(value, field="host"):
    """The IPv4 or IPv6 address in ``value`` as text (no host names: MPCPUs have addresses)."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise MpcpuError("%s: %r is not an IPv4 or IPv6 address" % (field, value)) from None


def port(value, field, row_id, side="mpcpu_port"):
    """``value`` if given, else the row's port from Appendix D; always within 1-65535."""
    if value is None:
        value = getattr(appendix_d.row(row_id), side)
    problem = appendix_d.port_problem(value)
    if problem:
        raise MpcpuError("%s: %s" % (field, problem))
    return value


def positive(value, field, minimum=0, allow_equal=False):
    """A number above ``minimum`` (or equal to it when ``allow_equal``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MpcpuError("%s: %r is not a number" % (field, value))
    if value < minimum or (value == minimum and not allow_equal):
        relation = "at least" if allow_equal else "greater than"
        raise MpcpuError("%s: %r must be %s %g" % (field, value, relation, minimum))
    return value


def regex(pattern, field, exactly_one_group=False):
    """``pattern`` compiled: a regular expression whose group captures the value read, at
    least one group or, when ``exactly_one_group``, exactly one."""
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as error:
        raise MpcpuError(
            "%s: %r is not a regular expression: %s" % (field, pattern, error)
        ) from None
    if exactly_one_group and compiled.groups != 1:
        raise MpcpuError("%s: %r must have exactly one group, the value read" % (field, pattern))
    if compiled.groups < 1:
        raise MpcpuError("%s: %r has no group to capture the value" % (field, pattern))
    return compiled


def remote_name(value, field):
    """A TFTP file name: non-empty, printable ASCII without NUL (it travels in the request)."""
    text = "" if value is None else str(value)
    if not text or any(not 32 < ord(char) < 127 for char in text):
        raise MpcpuError(
            "%s: %r is not a non-empty ASCII file name without spaces" % (field, value)
        )
    return text


def choice(value, field, choices):
    if value not in choices:
        raise MpcpuError("%s: %r is not one of %s" % (field, value, ", ".join(choices)))
    return value


def new_client(factory, host, **options):
    """A TFTP client; the client's own refusal of an option (ValueError) names that option."""
    try:
        return factory(host, **options)
    except ValueError as error:
        raise MpcpuError(str(error)) from None
