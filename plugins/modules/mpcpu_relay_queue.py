#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mpcpu_relay_queue
short_description: Follow verify's alarm test mails through the relay's postfix queue
version_added: 0.2.0
author: MegaPower automation team (@megapower-mpcpu)
description:
  - Runs on an alarm relay (group C(mpcpu_smtp_relays)) after M(megapower.mpcpu.mpcpu_probe) sent
    its test alarm mails there. Follows each one, by the queue ID the relay answered with, until
    postfix delivered it (to the smarthost, or to the local maildir without one) or deferred it,
    and fails its result naming the reason in postfix's own words, headed C(TLS),
    C(authentication), C(connection) or C(refused).
  - Reports the mail waiting in the queue, how many and since when (C(postqueue -j)), in every
    result and in RV(waiting).
  - Reads the delivery lines from the journal (C(journalctl)) or C(/var/log/mail.log).
  - A deferred mail is a result, not a task failure; playbooks/verify.yml puts the results into
    its report. Never changes anything.
options:
  sent:
    description:
      - The probe results of the row C(alarm_email) whose relay is this host, as
        M(megapower.mpcpu.mpcpu_probe) returns them; those that failed are left out.
    type: list
    elements: dict
    required: true
  timeout:
    description:
      - Seconds to wait for each test mail to be delivered or deferred (postfix's own connect
        timeout is 30 s).
    type: float
    default: 60.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - megapower.mpcpu.attributes
  - megapower.mpcpu.attributes.read_only
attributes:
  check_mode:
    support: full
    details:
      - Follows nothing (the probes send nothing in check mode), reports the queue.
  idempotent:
    support: full
seealso:
  - module: megapower.mpcpu.mpcpu_probe
"""

EXAMPLES = r"""
- name: Follow the test alarm mails sent through this relay
  megapower.mpcpu.mpcpu_relay_queue:
    sent: "{{ hostvars['probe-host'].probes.results | selectattr('row', 'equalto', 'alarm_email')
              | selectattr('pc_host', 'equalto', inventory_hostname) | list }}"
  register: relay_queue
"""

RETURN = r"""
results:
  description: One verify result per test mail followed.
  returned: always
  type: list
  elements: dict
  sample: [{"mpcpu": "lobby-cpu", "row": "alarm_email", "pc_host": "relay", "passed": false,
            "detail": "relay: test mail 4F2A1B: deferred (authentication): SASL authentication
                       failed; ...; 1 mail(s) waiting in the queue since 2026-12-07T13:40:00Z"}]
waiting:
  description: The mail waiting in the queue.
  returned: always
  type: dict
  contains:
    count:
      description: How many mails.
      type: int
    since:
      description: Arrival of the oldest, UTC, ISO 8601; null when none waits.
      type: str
    reason:
      description: Why the oldest waits, in postfix's words; null when it has not been tried yet.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.megapower.mpcpu.plugins.module_utils import relay_queue  # noqa: E402
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import edge  # noqa: E402

ARGUMENT_SPEC = dict(
    sent=dict(type="list", elements="dict", required=True),
    timeout=dict(type="float", default=60.0),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    edge.execute(module, relay_queue.run)


if __name__ == "__main__":
    main()
