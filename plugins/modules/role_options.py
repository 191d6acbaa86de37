#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: role_options
short_description: Refuse a role's options before the role changes anything
version_added: 0.1.0
author: MegaPower automation team (@megapower-mpcpu)
description:
  - The first check task of every role of the collection that runs on a site's hosts
    (C(firewall), C(dhcp), C(ntp), C(smtp), C(tftp_receiver), C(log_collector)).
  - Takes every option of the role's C(meta/argument_specs.yml) (but the site model and
    C(mpcpu_site)) with the value this run gives it, however it was given (inventory, play
    vars, role parameters, extra vars or the role's defaults), and checks it against the spec
    (types as the role reads them) and the limits a spec cannot say, which live beside the
    specs in C(plugin_utils/role_options.py) (for example C(dhcp_lease_cleanup_interval) must
    not be negative, C(tftp_receiver_umask) must drop every write bit).
  - 'The same check, with the same C(host: option: message) lines, that
    P(megapower.mpcpu.site_model#filter) runs on the options the inventory sets, so an option is
    refused the same way however it reaches the role.'
  - 'Fails with every problem at once, headed C(<role>: <n> problem(s)); never connects to the
    host.'
options:
  role:
    description: The role whose options are checked; the task runs inside it.
    type: str
    required: true
    choices: [dhcp, firewall, log_collector, ntp, smtp, tftp_receiver]
  problems:
    description:
      - 'Problems the role found itself that no option check can (for example that the host does
        not play the role''s row), in the same C(host: field: message) form, listed first in
        the same refusal.'
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - megapower.mpcpu.attributes
attributes:
  action:
    support: full
    details:
      - Runs on the controller only and never connects to the host.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - Only checks, so the task runs the same in check mode.
  diff_mode:
    support: N/A
    details:
      - Nothing is changed, so there is nothing to compare.
  idempotent:
    support: full
    details:
      - Never changes anything; the task always reports C(changed=false).
  platform:
    platforms: all
    details:
      - Runs on the controller, whatever the host the task runs for.
seealso:
  - plugin: megapower.mpcpu.role_option_problems
    plugin_type: filter
  - plugin: megapower.mpcpu.site_model
    plugin_type: filter
notes:
  - An action plugin, so it runs on the controller and never connects to the host.
"""

EXAMPLES = r"""
- name: Refuse bad options before the host is changed
  megapower.mpcpu.role_options:
    role: dhcp

- name: Refuse bad options and a host that does not play the row, in one refusal
  megapower.mpcpu.role_options:
    role: tftp_receiver
    problems: "{{ [] if __tftp_receiver_row else [__tftp_receiver_not_played] }}"
"""

# The task's options, for the action plugin (plugins/action/role_options.py) that runs it; the
# roles are those role_options.ROLE_PARTS names (a unit test keeps the two equal).
ARGUMENT_SPEC = {
    "role": {
        "type": "str",
        "required": True,
        "choices": ["dhcp", "firewall", "log_collector", "ntp", "smtp", "tftp_receiver"],
    },
    "problems": {"type": "list", "elements": "str", "default": []},
}

RETURN = r"""
options:
  description: The names of the options checked, with the value this run gives them.
  returned: always
  type: list
  elements: str
  sample: [dhcp_authoritative, dhcp_install_packages, dhcp_lease_cleanup_interval]
problems:
  description: 'One C(<host>: <option>: <message>) line per problem.'
  returned: failed
  type: list
  elements: str
  sample:
    - "cctv-gw: dhcp_lease_cleanup_interval: -5 is not a number of seconds (0 turns cleanup off)"
msg:
  description:
    - 'On failure the heading C(<role>: <n> problem(s)) followed by the problems, as a list.'
  returned: always
  type: raw
"""
