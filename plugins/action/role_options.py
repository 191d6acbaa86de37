# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one pre-check of a role's options, on the controller (see ``modules/role_options.py``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.megapower.mpcpu.plugins.modules.role_options import ARGUMENT_SPEC
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options


def refusal(role, problems):
    """The failed result naming every problem, headed as every role of the collection heads it."""
    return {
        "failed": True,
        "msg": ["%s: %d problem(s)" % (role, len(problems))] + problems,
        "problems": problems,
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def _options_of_this_run(self, role, task_vars):
        """Each option of ``role``'s argument spec with the value this run gives it (inventory,
        play, role parameters or the role's defaults), templated as the role would read it."""
        given = dict(
            (name, task_vars[name])
            for name in role_options.role_option_names(role)
            if name in task_vars
        )
        return self._templar.template(given)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        role, host = args["role"], task_vars.get("inventory_hostname")
        options = self._options_of_this_run(role, task_vars)
        try:
            problems = role_options.role_option_problems(role, host, options)
        except ValueError as error:
            raise AnsibleActionFail("role_options: %s" % error) from None
        problems = list(args["problems"]) + problems
        result.update(changed=False, options=sorted(options))
        if problems:
            result.update(refusal(role, problems))
        else:
            result["msg"] = "%s: the options of this run pass" % role
        return result
