# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the dhcp, ntp and smtp roles read their settings and checks from.

Each takes the compiled site model (``megapower.mpcpu.site_model``) as its input; the logic
lives in ``plugin_utils/services.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import services


class FilterModule(object):
    def filters(self):
        return {
            "interface_addresses": services.interface_addresses,
            "dhcp_server_errors": services.dhcp_server_errors,
            "kea_dhcp4_config": services.kea_dhcp4_config,
            "ntp_server_errors": services.ntp_server_errors,
            "chrony_server_settings": services.chrony_server_settings,
            "holds_capability": services.holds_capability,
            "smtp_relay_errors": services.smtp_relay_errors,
            "postfix_relay_settings": services.postfix_relay_settings,
        }
