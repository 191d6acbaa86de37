# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firmware rollout order of an MPCPU site."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import rollout


def firmware_waves(model, reported, inventory_order):
    """Two waves, standby and unpaired CPUs first, selected ones second; never both mates."""
    try:
        return rollout.firmware_waves(model, reported or {}, list(inventory_order or ()))
    except (KeyError, TypeError) as error:
        raise AnsibleFilterError("firmware_waves: not a compiled site model: %s" % error) from None


class FilterModule(object):
    def filters(self):
        return {"firmware_waves": firmware_waves}
