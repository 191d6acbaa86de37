# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conversations an MPCPU starts (NTP, alarm e-mail, DHCP), written once.

The MPCPU simulator plays them as the device; the verify probes and the time module use them
from the device's or the management host's side. Each raises ClientError with a message for a
person. Standard library only: modules that run on managed hosts import them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d


class ClientError(Exception):
    """A conversation failed; the message says where and why."""


def row_ports(row_id):
    """(MPCPU port or None for "any", PC port) of an Appendix D row."""
    table_row = appendix_d.row(row_id)
    return table_row.mpcpu_port, table_row.pc_port
