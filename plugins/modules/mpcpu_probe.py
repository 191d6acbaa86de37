#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mpcpu_probe
short_description: Probe Appendix D flows for real, from the side that starts them
version_added: 0.1.0
author: MegaPower automation team (@megapower-mpcpu)
description:
  - Takes flows of the site model (the C(flows) of C(megapower.mpcpu.site_model)) and tries each
    one over the network; a TCP 514 connection that receives a log line, a UDP 4001 request that
    gets a reply, a TFTP read of the MPCPU's time file, a TFTP snapshot upload, an NTP query, an
    alarm e-mail through the relay, a DHCP lease for the MPCPU's MAC.
  - PC-side flows (C(activity_logging), C(easy_cpu), C(time_firmware)) are probed from the PC
    host; MPCPU-side flows (C(snapshot), C(ntp), C(alarm_email), C(ip_assignment)) must run on a
    host that carries the MPCPU's address, as the lab's simulator host does, since the probe sends
    from it.
  - Each flow of the model carries its MPCPU's device-side settings in C(device_protocol) (the
    status request, the activity-log request, the time file and its format, from
    C(mpcpu_site.device_protocol) and the CPU's C(mpcpu_device_protocol)); the probe sends and
    reads those. O(easy_cpu_payload), O(time_file) and O(time_format) apply to a flow without
    them. The activity-log probe sends the request asking from line 1 and passes on a numbered
    log line (C(<seq> <timestamp> <device> <event>), the collector's format).
  - A failed probe is a result, not a task failure; playbooks/verify.yml turns the results into a
    report. The task never reports a change.
options:
  probes:
    description: Flows to probe, as the site model lists them.
    type: list
    elements: dict
    required: true
  timeout:
    description: Seconds each probe waits for an answer.
    type: float
    default: 3.0
  easy_cpu_payload:
    description: The EASY CPU request of a flow that carries no C(device_protocol.status_request).
    type: str
    default: "STATUS\r\n"
  alarm_recipient:
    description: Recipient of the probe's alarm e-mail.
    type: str
    default: alarms@mpcpu.example
  dhcp_interface:
    description: Interface facing the MPCPU network, for the DHCP probe.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - megapower.mpcpu.attributes
  - megapower.mpcpu.attributes.read_only
  - megapower.mpcpu.mpcpu.time_file
attributes:
  check_mode:
    support: partial
    details:
      - Probes that leave something behind (a snapshot file, a mail, a lease) are not run and
        report C(not probed in check mode); the others run as usual.
  idempotent:
    support: full
    details:
      - Never changes configuration; a probe may leave a snapshot file, a mail or a lease behind.
seealso:
  - module: megapower.mpcpu.mpcpu_status
"""

EXAMPLES = r"""
- name: Probe the flows this PC host starts
  megapower.mpcpu.mpcpu_probe:
    probes: "{{ site_model_compiled.flows | selectattr('pc_host', 'equalto', inventory_hostname)
                | selectattr('initiator', 'equalto', 'pc') | list }}"
  register: pc_probes
"""

RETURN = r"""
results:
  description: One result per probe.
  returned: always
  type: list
  elements: dict
  sample: [{"mpcpu": "lobby-cpu", "row": "ntp", "pc_host": "cctv-srv", "passed": true,
            "detail": "cctv-srv: stratum 10, offset +0.001 s"}]
passed_count:
  description: Probes that passed.
  returned: always
  type: int
failed_count:
  description: Probes that failed.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.megapower.mpcpu.plugins.module_utils import (  # noqa: E402
    mpcpu_probe,
    mpcpu_status,
    mpcpu_time,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import edge  # noqa: E402

ARGUMENT_SPEC = dict(
    probes=dict(type="list", elements="dict", required=True),
    timeout=dict(type="float", default=3.0),
    time_file=dict(type="str", default=mpcpu_time.DEFAULT_TIME_FILE),
    time_format=dict(type="str", default=mpcpu_time.DEFAULT_TIME_FORMAT),
    easy_cpu_payload=dict(type="str", default=mpcpu_status.DEFAULT_PAYLOAD),
    alarm_recipient=dict(type="str", default="alarms@mpcpu.example"),
    dhcp_interface=dict(type="str"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    edge.execute(module, mpcpu_probe.run)


if __name__ == "__main__":
    main()
