# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options that several modules share, written once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Every module that talks to one MPCPU (group/megapower.mpcpu.mpcpu).
    DOCUMENTATION = r"""
options:
  host:
    description:
      - IPv4 or IPv6 address of the MPCPU.
      - Can be set once for several tasks with C(module_defaults) and
        C(group/megapower.mpcpu.mpcpu).
    type: str
    required: true
"""

    # The modules that are TFTP clients of the MPCPU (Appendix D row time_firmware).
    TFTP = r"""
options:
  port:
    description:
      - UDP port of the MPCPU's TFTP server.
      - Defaults to the MPCPU port of Appendix D row C(time_firmware), read from the
        collection's table. The guide says the port must be programmed, so a site may change it.
    type: int
  timeout:
    description:
      - Seconds to wait for a TFTP packet before sending again, at most, and the first wait of
        a transfer.
      - Once round trips are measured the wait follows them (RFC 6298, the round trip plus at
        least 0.2 s), never above this value; consecutive losses double it.
    type: float
    default: 1.0
  retries:
    description: How many times a TFTP packet is sent again after a timeout.
    type: int
    default: 5
"""

    # The modules that read the MPCPU's calendar-time file.
    TIME_FILE = r"""
options:
  time_file:
    description:
      - Name of the MPCPU's calendar-time file.
      - B(ASSUMPTION) - no public document names it; see M(megapower.mpcpu.mpcpu_time).
    type: str
    default: mpcpu_time.txt
  time_format:
    description:
      - C(strftime)/C(strptime) pattern of the time file's content, in UTC, without the newline.
      - It must carry the time down to the second; C(%f) adds microseconds.
    type: str
    default: '%Y-%m-%dT%H:%M:%S'
"""
