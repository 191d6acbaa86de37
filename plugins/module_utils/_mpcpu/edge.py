# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edge between an AnsibleModule and the logic: one place that turns errors into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError


def execute(module, run):
    """Call ``run(params, check_mode)`` and exit the module with its result or its error.

    ``diff`` is returned only when --diff asked for it.
    """
    try:
        result = run(module.params, check_mode=module.check_mode)
    except MpcpuError as error:
        details = _without_diff(module, error.result)
        details.pop("msg", None)
        module.fail_json(msg=str(error), **details)
    module.exit_json(**_without_diff(module, result))


def _without_diff(module, result):
    if not module._diff:
        result.pop("diff", None)
    return result
