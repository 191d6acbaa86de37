# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.megapower.mpcpu.plugins.filter.smarthost import (
    postfix_recipient_map,
    postfix_smarthost_settings,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options

SECRET = "pa ss:w0rd-never-shown"


def _settings(relayhost, level="encrypt", wrapper=None, ca="", auth=False):
    return dict(postfix_smarthost_settings(relayhost, level, wrapper, ca, auth))


def test_port_587_speaks_starttls_and_465_tls_from_the_first_byte():
    assert _settings("[smtp.office365.com]:587")["smtp_tls_wrappermode"] == "no"
    assert _settings("[mail.example.com]:465")["smtp_tls_wrappermode"] == "yes"
    assert _settings("[mail.example.com]:2465", wrapper=True)["smtp_tls_wrappermode"] == "yes"


def test_the_system_store_unless_a_ca_is_given():
    assert "smtp_tls_CAfile" not in _settings("[m.example.com]")
    system_store = _settings("[m.example.com]", level="verify")["smtp_tls_CAfile"]
    assert system_store == "/etc/ssl/certs/ca-certificates.crt"
    given = _settings("[m.example.com]", ca="-----BEGIN CERTIFICATE-----\n")
    assert given["smtp_tls_CAfile"] == "/etc/postfix/mpcpu-relay-ca.pem"


def test_a_login_reads_the_root_only_map_and_nothing_else():
    settings = _settings("[m.example.com]:587", level="verify", auth=True)
    assert settings["smtp_sasl_auth_enable"] == "yes"
    assert settings["smtp_sasl_password_maps"] == "hash:/etc/postfix/sasl_passwd"
    assert settings["smtp_sasl_security_options"] == "noanonymous"
    assert "smtp_sasl_auth_enable" not in _settings("[m.example.com]:587")


def test_a_programmed_address_reaches_a_distribution_list():
    targets = ["a@corp.example", "b@corp.example"]
    entries = [{"address": "alarms@cctv.example", "deliver_to": targets}]
    assert postfix_recipient_map(entries) == ["alarms@cctv.example a@corp.example, b@corp.example"]


@pytest.mark.parametrize(
    "options",
    [
        {"smtp_relay_tls_level": "none"},
        {"smtp_relay_tls_level": "may"},
        {"smtp_relay_username": ""},
        {"smtp_relay_password": SECRET + "\n"},
        {"smtp_relayhost": ""},
    ],
)
def test_a_refused_login_never_shows_the_password(options):
    given = {
        "smtp_relayhost": "[m.example.com]:587",
        "smtp_relay_auth": True,
        "smtp_relay_username": "alarms@corp.example",
        "smtp_relay_password": SECRET,
    }
    given.update(options)
    problems = role_options.role_option_problems("smtp", "relay", given)
    assert problems
    assert not [line for line in problems if "w0rd" in line]


def test_a_login_over_tls_passes():
    given = {
        "smtp_relayhost": "[m.example.com]:465",
        "smtp_relay_auth": True,
        "smtp_relay_username": "alarms@corp.example",
        "smtp_relay_password": SECRET,
    }
    assert role_options.role_option_problems("smtp", "relay", given) == []
