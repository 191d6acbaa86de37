#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mpcpu_time
short_description: Read or set the calendar time of a MegaPower CPU over TFTP
version_added: 0.1.0
author: MegaPower automation team (@megapower-mpcpu)
description:
  - Reads the calendar time of an American Dynamics MegaPower CPU (MPCPU) with a TFTP read of
    its time file and, when O(state=set) and the device is off by more than O(tolerance)
    seconds, writes the reference time with a TFTP write and reads it back to verify.
  - The reference time comes from the clock of the host the module runs on
    (O(source=controller)), from an explicit UTC time (O(source=explicit)) or from one SNTP
    query to an NTP server (O(source=ntp)).
  - Runs on the management host (a host of group C(mpcpu_managers), usually through
    C(delegate_to)) and reaches the device over the network, as in Appendix D row
    C(time_firmware) (TFTP, the PC is the client of the MPCPU).
  - B(ASSUMPTION) - no public document gives the name or the content of the MPCPU's time file.
    The defaults assume a file C(mpcpu_time.txt) holding the UTC time as ASCII
    C(YYYY-MM-DDTHH:MM:SS) and a newline, read to get the device clock and written to set it.
    Both are parameters (O(time_file), O(time_format)) so a site can program what its firmware
    really uses.
options:
  state:
    description:
      - V(set) sets the device when it is off by more than O(tolerance); V(read) only reports.
    type: str
    choices: [set, read]
    default: set
  source:
    description:
      - Where the reference time comes from.
      - V(controller) is the clock of the host the module runs on (the controller itself when
        delegated to C(localhost)).
      - V(explicit) is O(time), taken as "now" when the module starts. A moment stays fixed while
        the device clock runs, so repeating the task with the same O(time) changes it again.
      - V(ntp) is the clock of the host the module runs on corrected by one SNTP query to
        O(ntp_server).
    type: str
    choices: [controller, explicit, ntp]
    default: controller
  time:
    description:
      - The UTC time for O(source=explicit), as C(YYYY-MM-DDTHH:MM:SS) (a trailing C(Z) is
        accepted).
    type: str
  ntp_server:
    description:
      - IPv4 or IPv6 address of the NTP server for O(source=ntp).
      - Its reply is awaited for O(timeout) seconds.
    type: str
  ntp_port:
    description: UDP port of the NTP server; defaults to the PC port of Appendix D row C(ntp).
    type: int
  tolerance:
    description:
      - Largest drift in seconds left alone. The device is set only when it is further off.
      - Must be at least the resolution of O(time_format) (one second by default).
    type: float
    default: 2
  verify:
    description: After setting, read the time back and fail if the device is still off.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - megapower.mpcpu.attributes
  - megapower.mpcpu.attributes.actiongroup_tftp
  - megapower.mpcpu.mpcpu
  - megapower.mpcpu.mpcpu.tftp
  - megapower.mpcpu.mpcpu.time_file
attributes:
  check_mode:
    support: full
    details:
      - Reads the device time, reports the drift and what would be written; writes nothing.
  diff_mode:
    support: full
    details:
      - Shows the device time before and after (the time that would be written, in check mode).
  idempotent:
    support: partial
    details:
      - With O(source=controller) or O(source=ntp), a second run finds the drift within
        O(tolerance) and changes nothing.
      - O(source=explicit) names a fixed moment, so the running device clock drifts away from it
        and a second run sets the device again.
notes:
  - The time file holds whole seconds by default, so the written time is rounded to the nearest
    second and the drift is measured against the middle of the read's round trip.
seealso:
  - module: megapower.mpcpu.mpcpu_firmware
  - module: megapower.mpcpu.mpcpu_status
"""

EXAMPLES = r"""
- name: Set every MPCPU's clock from the management host's clock
  megapower.mpcpu.mpcpu_time:
    host: "{{ mpcpu_ip }}"
  delegate_to: "{{ groups['mpcpu_managers'][0] }}"

- name: Set the clock from the site's NTP server, allowing 5 seconds of drift
  megapower.mpcpu.mpcpu_time:
    host: "{{ mpcpu_ip }}"
    source: ntp
    ntp_server: 203.0.113.10
    tolerance: 5
  delegate_to: "{{ groups['mpcpu_managers'][0] }}"

- name: Read the device time only
  megapower.mpcpu.mpcpu_time:
    host: 198.51.100.10
    state: read
  register: mpcpu_clock
  delegate_to: localhost

- name: Set an explicit time, with a device that uses another file and format
  megapower.mpcpu.mpcpu_time:
    host: 198.51.100.10
    source: explicit
    time: "2026-11-24T12:00:00"
    time_file: clock.txt
    time_format: "%d.%m.%Y %H:%M:%S"
  delegate_to: localhost

- name: Address and TFTP settings given once for the TFTP modules
  module_defaults:
    group/megapower.mpcpu.mpcpu_tftp:
      host: 198.51.100.10
      timeout: 2.0
      retries: 3
  delegate_to: localhost
  block:
    - name: Read the device time
      megapower.mpcpu.mpcpu_time:
        state: read
      register: mpcpu_clock

    - name: Push the firmware
      megapower.mpcpu.mpcpu_firmware:
        src: /srv/firmware/mpcpu-4.2.bin
"""

RETURN = r"""
device_time_before:
  description: The device time read first (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2026-11-24T11:58:03Z"
device_time_after:
  description:
    - The device time read back after setting it.
    - The same as RV(device_time_before) when nothing was written, the time that would be
      written in check mode, and the written time when O(verify=false).
  returned: success
  type: str
  sample: "2026-11-24T12:00:00Z"
drift_seconds:
  description: How far the device was ahead (positive) or behind (negative) the reference.
  returned: success
  type: float
  sample: -117.32
drift_after_seconds:
  description: The drift measured by the read-back after setting.
  returned: when the time was set and O(verify=true)
  type: float
  sample: 0.12
reference_time:
  description: The reference time when the device was read (UTC, ISO 8601, milliseconds).
  returned: success
  type: str
  sample: "2026-11-24T12:00:00.412Z"
time_written:
  description: The time written to the device, in O(time_format).
  returned: when the time was set
  type: str
  sample: "2026-11-24T12:00:00"
ntp_offset_seconds:
  description: The offset of the NTP server's clock from the module host's clock.
  returned: when O(source=ntp)
  type: float
  sample: 0.0031
tolerance:
  description: The tolerance in seconds the drift was compared with.
  returned: success
  type: float
  sample: 2.0
source:
  description: The reference source used.
  returned: success
  type: str
  sample: controller
state:
  description: The requested state.
  returned: success
  type: str
  sample: set
time_file:
  description: The device file that was read (and written).
  returned: success
  type: str
  sample: mpcpu_time.txt
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.megapower.mpcpu.plugins.module_utils import (  # noqa: E402
    mpcpu_time,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import (  # noqa: E402
    edge,
)

ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    port=dict(type="int"),
    time_file=dict(type="str", default=mpcpu_time.DEFAULT_TIME_FILE),
    time_format=dict(type="str", default=mpcpu_time.DEFAULT_TIME_FORMAT),
    state=dict(type="str", default="set", choices=list(mpcpu_time.STATES)),
    source=dict(type="str", default="controller", choices=list(mpcpu_time.SOURCES)),
    time=dict(type="str"),
    ntp_server=dict(type="str"),
    ntp_port=dict(type="int"),
    tolerance=dict(type="float", default=2.0),
    verify=dict(type="bool", default=True),
    timeout=dict(type="float", default=1.0),
    retries=dict(type="int", default=5),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("source", "explicit", ["time"]), ("source", "ntp", ["ntp_server"])],
        supports_check_mode=True,
    )
    edge.execute(module, mpcpu_time.run)


if __name__ == "__main__":
    main()
