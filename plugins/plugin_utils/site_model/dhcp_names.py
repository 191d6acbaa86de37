# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DHCP host name of each MPCPU (option 12 of its reservation), which EASY CPU shows.

By default the inventory name; ``mpcpu_dhcp_hostname`` gives another, or ``false`` for none.
An inventory name that is not a host name (RFC 1123) sends none unless one is given.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    host_vars_of,
)

_text = appendix_d.value_text

HOST_KEY = "mpcpu_dhcp_hostname"
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(r"^%s(\.%s)*$" % (LABEL, LABEL))


def _valid(name):
    return isinstance(name, str) and len(name) <= 253 and HOST_NAME.match(name) is not None


def set_hostnames(devices, hostvars, problems):
    """Give each device its ``hostname`` (None: the reservation carries none)."""
    for device in devices:
        given = host_vars_of(hostvars, device["name"]).get(HOST_KEY)
        if given is None:
            device["hostname"] = device["name"] if _valid(device["name"]) else None
        elif given is False:
            device["hostname"] = None
        elif _valid(given):
            device["hostname"] = given
        else:
            problems.add(
                device["name"],
                HOST_KEY,
                "%s is not a host name (letters, digits and hyphens in dot-separated labels), "
                "nor false for none" % _text(given),
            )
            device["hostname"] = None
