# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check a role runs on the options it was given, the same the site model runs on the
options an inventory sets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options as _role_options


def role_option_problems(options, role, host):
    """What ``role`` refuses in ``options`` on ``host``, one ``host: option: message`` each."""
    try:
        return _role_options.role_option_problems(role, host, options)
    except ValueError as error:
        raise AnsibleFilterError("role_option_problems: %s" % error) from None


class FilterModule(object):
    def filters(self):
        return {"role_option_problems": role_option_problems}
