# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attributes our modules document besides ansible.builtin.action_common_attributes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Every module: what idempotent means here, and where the module runs.
    DOCUMENTATION = r"""
attributes:
  idempotent:
    description:
      - When the task runs again with the same options and nothing else changed in between, the
        second run reports no change and changes nothing.
  platform:
    platforms: posix
    details:
      - Runs on the host the task runs on (often the controller or the management host, through
        C(delegate_to)) and needs nothing there but Python's standard library.
"""

    # Modules that only read: probes and status checks.
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    details:
      - Only reads from the network, so the task runs the same in check mode.
  diff_mode:
    support: N/A
    details:
      - Nothing is changed, so there is nothing to compare.
  idempotent:
    support: full
    details:
      - Never changes anything; the task always reports C(changed=false).
"""

    # Modules of group/megapower.mpcpu.mpcpu only.
    ACTIONGROUP_MPCPU = r"""
attributes:
  action_group:
    description:
      - Use C(group/megapower.mpcpu.mpcpu) in C(module_defaults) to set O(host) and O(timeout)
        once for every module that talks to one MPCPU.
    support: full
    membership:
      - megapower.mpcpu.mpcpu
"""

    # The TFTP modules: group/megapower.mpcpu.mpcpu and group/megapower.mpcpu.mpcpu_tftp.
    ACTIONGROUP_TFTP = r"""
attributes:
  action_group:
    description:
      - Use C(group/megapower.mpcpu.mpcpu) in C(module_defaults) to set O(host) and O(timeout)
        once for every module that talks to one MPCPU, or C(group/megapower.mpcpu.mpcpu_tftp)
        to set O(host), O(port), O(timeout) and O(retries) once for the TFTP modules.
    support: full
    membership:
      - megapower.mpcpu.mpcpu
      - megapower.mpcpu.mpcpu_tftp
"""
