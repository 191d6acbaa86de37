# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the smtp role writes its smarthost settings with; the logic lives in
``plugin_utils/smarthost.py``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options, smarthost


def postfix_smarthost_settings(relayhost, tls_level, wrappermode, ca_certificates, auth):
    try:
        port = role_options.parse_smarthost(relayhost)[1] or smarthost.DEFAULT_PORT
    except ValueError as error:
        raise AnsibleFilterError("smtp_relayhost: %s" % error) from None
    return [
        list(setting)
        for setting in smarthost.smarthost_settings(
            relayhost,
            port,
            tls_level,
            wrapper=wrappermode,
            ca_certificates=ca_certificates,
            auth=auth,
        )
    ]


def postfix_recipient_map(recipient_map):
    return smarthost.recipient_map_lines(recipient_map)


class FilterModule(object):
    def filters(self):
        return {
            "postfix_smarthost_settings": postfix_smarthost_settings,
            "postfix_recipient_map": postfix_recipient_map,
        }
