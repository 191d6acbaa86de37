#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mpcpu_status
short_description: Probe a MegaPower CPU's EASY CPU status port and activity-log port
version_added: 0.1.0
author: MegaPower automation team (@megapower-mpcpu)
description:
  - Sends one EASY CPU style request to the MPCPU's status port (Appendix D row C(easy_cpu),
    UDP) and collects the replies that come back within O(timeout); the guide says each request
    produces one or more replies.
  - Optionally connects to the activity-log port (Appendix D row C(activity_logging), TCP) and
    reads the first line the device streams back.
  - Never changes anything; the task always reports C(changed=false).
  - Runs on the host that plays the PC side (usually through C(delegate_to)).
options:
  easy_cpu_port:
    description:
      - UDP status port of the MPCPU; defaults to the MPCPU port of Appendix D row C(easy_cpu).
    type: int
  payload:
    description: The request sent to the status port (UTF-8).
    type: str
    default: "STATUS\r\n"
  expect_replies:
    description: Fewest replies that count as success; the module fails with fewer.
    type: int
    default: 1
  timeout:
    description: Seconds to wait for the replies, and for the activity-log connection and line.
    type: float
    default: 2.0
  settle_time:
    description:
      - Once O(expect_replies) replies are in, stop after this many seconds without another one
        (more may follow, so the module does not stop at the first).
    type: float
    default: 0.3
  check_activity_log:
    description: Connect to the activity-log port and fail if it does not accept the connection.
    type: bool
    default: true
  activity_log_port:
    description:
      - TCP activity-log port.
      - Defaults to the MPCPU port of Appendix D row C(activity_logging).
    type: int
  activity_log_request:
    description:
      - Text sent after connecting to the activity-log port (for example C(LOG 1\r\n)).
      - Nothing is sent by default.
    type: str
  version_regex:
    description:
      - B(ASSUMPTION) - where a status reply names the running firmware version; the first
        reply matching gives RV(reported.version). The one group captures the value.
      - The site sets it in C(mpcpu_site.device_protocol.status_version_regex).
    type: str
    default: '\bversion=(\S+)'
  selected_regex:
    description:
      - B(ASSUMPTION) - where a status reply says which CPU of a hot-standby pair runs the
        matrix; the one group captures the role, compared with O(selected_value).
      - The site sets it in C(mpcpu_site.device_protocol.status_selected_regex).
    type: str
    default: '\brole=(\w+)'
  selected_value:
    description: The role text of the selected CPU (any other role is standby).
    type: str
    default: selected
  activity_log_read_line:
    description: Read one line from the activity-log port and fail if none comes within O(timeout).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - megapower.mpcpu.attributes
  - megapower.mpcpu.attributes.read_only
  - megapower.mpcpu.attributes.actiongroup_mpcpu
  - megapower.mpcpu.mpcpu
seealso:
  - module: megapower.mpcpu.mpcpu_time
"""

EXAMPLES = r"""
- name: The MPCPU answers status requests and accepts an activity-log connection
  megapower.mpcpu.mpcpu_status:
    host: "{{ mpcpu_ip }}"
  delegate_to: "{{ groups['mpcpu_easy_consoles'][0] }}"

- name: Ask for a log line, expecting at least two status replies
  megapower.mpcpu.mpcpu_status:
    host: 198.51.100.10
    expect_replies: 2
    activity_log_request: "LOG 1\r\n"
    activity_log_read_line: true
  register: mpcpu_probe
  delegate_to: localhost

- name: One address for every module that talks to this MPCPU
  module_defaults:
    group/megapower.mpcpu.mpcpu:
      host: 198.51.100.10
  delegate_to: localhost
  block:
    - name: The MPCPU answers status requests
      megapower.mpcpu.mpcpu_status:
        check_activity_log: false

    - name: Read its clock
      megapower.mpcpu.mpcpu_time:
        state: read
"""

RETURN = r"""
replies:
  description: The replies' text, in arrival order, without the line end.
  returned: always
  type: list
  elements: str
  sample: ["MPCPU lobby-cpu 198.51.100.10 STATUS 1/2 ..."]
reply_count:
  description: Number of replies.
  returned: always
  type: int
  sample: 2
reported:
  description: What the replies say, read with O(version_regex) and O(selected_regex).
  returned: always
  type: dict
  contains:
    version:
      description: The running firmware version (null when no reply says).
      type: str
    role:
      description: The role text captured by O(selected_regex) (null when no reply says).
      type: str
    selected:
      description: Whether this CPU is the selected one of its pair (null when no reply says).
      type: bool
  sample: {"version": "4.1", "role": "standby", "selected": false}
activity_log:
  description: The activity-log probe.
  returned: always
  type: dict
  contains:
    checked:
      description: Whether the port was probed (O(check_activity_log)).
      type: bool
    port:
      description: The TCP port probed.
      type: int
    reachable:
      description: Whether the connection was accepted.
      type: bool
    first_line:
      description: The first line read (null unless O(activity_log_read_line)).
      type: str
    error:
      description: Why the connection or the read failed (null when it did not).
      type: str
  sample: {"checked": true, "port": 514, "reachable": true, "first_line": null, "error": null}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.megapower.mpcpu.plugins.module_utils import (  # noqa: E402
    mpcpu_status,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import (  # noqa: E402
    edge,
)

ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    easy_cpu_port=dict(type="int"),
    payload=dict(type="str", default=mpcpu_status.DEFAULT_PAYLOAD),
    expect_replies=dict(type="int", default=1),
    timeout=dict(type="float", default=2.0),
    settle_time=dict(type="float", default=0.3),
    check_activity_log=dict(type="bool", default=True),
    activity_log_port=dict(type="int"),
    activity_log_request=dict(type="str"),
    activity_log_read_line=dict(type="bool", default=False),
    version_regex=dict(type="str", default=mpcpu_status.DEFAULT_VERSION_REGEX),
    selected_regex=dict(type="str", default=mpcpu_status.DEFAULT_SELECTED_REGEX),
    selected_value=dict(type="str", default=mpcpu_status.DEFAULT_SELECTED_VALUE),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    edge.execute(module, mpcpu_status.run)


if __name__ == "__main__":
    main()
