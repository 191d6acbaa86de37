# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alarm relay's way to a corporate smarthost: TLS, SASL login, sender rewriting and
recipient lists. The checks of the smtp role's smarthost options (``role_options`` calls them)
and the postfix settings the role writes. A password is never part of a message."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import problem

# postfix's smtp_tls_security_level values the role offers, weakest first. dane and
# fingerprint need DNSSEC or pinned digests, which no corporate relay documents.
TLS_LEVELS = ("none", "may", "encrypt", "verify", "secure")
# The levels a password may travel under: TLS is required, so it is never sent in clear.
TLS_LEVELS_FOR_A_PASSWORD = ("encrypt", "verify", "secure")
# The levels that check the smarthost's certificate against trusted CAs.
VERIFYING_LEVELS = ("verify", "secure")
# The port on which the smarthost speaks TLS from the first byte (SMTPS, RFC 8314).
WRAPPERMODE_PORT = 465
DEFAULT_PORT = 25
# Where postfix finds the CAs: the relay's system store, or the bundle the inventory gives.
SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
GIVEN_CA_FILE = "/etc/postfix/mpcpu-relay-ca.pem"
SASL_PASSWORD_MAP = "/etc/postfix/sasl_passwd"
RECIPIENT_MAP = "/etc/postfix/mpcpu_recipients"

MAIL_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
)
PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def _text(value):
    return repr(value) if isinstance(value, str) else str(value)


def wrappermode(port, wrapper):
    """Whether postfix speaks TLS from the first byte: as asked, else on port 465 only."""
    if isinstance(wrapper, bool):
        return wrapper
    return port == WRAPPERMODE_PORT


def _tls_problems(host, level, wrapper):
    if level not in TLS_LEVELS:
        return [
            problem(
                host,
                "smtp_relay_tls_level",
                "%s is not a TLS level (%s)" % (_text(level), ", ".join(TLS_LEVELS)),
            )
        ]
    if wrapper and level not in TLS_LEVELS_FOR_A_PASSWORD:
        return [
            problem(
                host,
                "smtp_relay_tls_level",
                "%s with TLS from the first byte (port %d or smtp_relay_tls_wrappermode) needs "
                "encrypt, verify or secure" % (_text(level), WRAPPERMODE_PORT),
            )
        ]
    return []


def _credential_problems(host, auth, username, password):
    errors = []
    if not isinstance(username, str) or ":" in username or re.search(r"\s", username):
        errors.append(
            problem(
                host,
                "smtp_relay_username",
                "%s is not an account name (a string without whitespace or ':')" % _text(username),
            )
        )
    if not isinstance(password, str) or re.search(r"[\r\n]", password):
        # Never the value itself: it is a secret.
        errors.append(
            problem(host, "smtp_relay_password", "must be a string on one line (quote it)")
        )
    if errors:
        return errors
    if auth is True:
        for name, value, what in (
            ("smtp_relay_username", username, "the smarthost account"),
            ("smtp_relay_password", password, "its password (from a vault)"),
        ):
            if not value:
                errors.append(
                    problem(host, name, "empty while smtp_relay_auth is true: give %s" % what)
                )
    elif username or password:
        errors.append(
            problem(
                host,
                "smtp_relay_auth",
                "false while smtp_relay_username or smtp_relay_password is set: set it to "
                "true to log in, or leave them empty",
            )
        )
    return errors


def _ca_problems(host, ca_certificates):
    if not isinstance(ca_certificates, str) or (
        ca_certificates and PEM_CERTIFICATE not in ca_certificates
    ):
        return [
            problem(
                host,
                "smtp_relay_tls_ca_certificates",
                "holds no PEM certificate (%s ...)" % PEM_CERTIFICATE,
            )
        ]
    return []


def _address_problem(host, field, address):
    if isinstance(address, str) and MAIL_ADDRESS.match(address):
        return []
    return [problem(host, field, "%s is not a mail address (local@domain)" % _text(address))]


def _recipient_map_problems(host, recipient_map):
    if not isinstance(recipient_map, (list, tuple)):
        return [
            problem(
                host,
                "smtp_recipient_map",
                "must be a list of {address, deliver_to} (the address an MPCPU is programmed "
                "with, the addresses it reaches)",
            )
        ]
    errors = []
    seen = set()
    for index, entry in enumerate(recipient_map):
        where = "smtp_recipient_map[%d]" % index
        if not isinstance(entry, dict) or set(entry) != {"address", "deliver_to"}:
            errors.append(problem(host, where, "must have exactly the keys address, deliver_to"))
            continue
        errors += _address_problem(host, where + ".address", entry["address"])
        if isinstance(entry["address"], str) and entry["address"].lower() in seen:
            errors.append(problem(host, where + ".address", "is mapped twice"))
        seen.add(str(entry["address"]).lower())
        targets = entry["deliver_to"]
        if not isinstance(targets, (list, tuple)) or not targets:
            errors.append(problem(host, where + ".deliver_to", "give at least one mail address"))
            continue
        for position, target in enumerate(targets):
            errors += _address_problem(host, "%s.deliver_to[%d]" % (where, position), target)
    return errors


def relay_option_problems(host, relay_port, options):
    """What is wrong with the smtp role's smarthost options on ``host``, once the smarthost
    (``smtp_relayhost``) has been read: ``relay_port`` is its port (None: no smarthost, or it is
    malformed and already refused). ``options`` maps the option names to their values."""
    level = options["smtp_relay_tls_level"]
    auth = options["smtp_relay_auth"]
    relayhost = options["smtp_relayhost"]
    errors = []
    if not isinstance(auth, bool):
        errors.append(problem(host, "smtp_relay_auth", "%s is not true or false" % _text(auth)))
    wrapper = options["smtp_relay_tls_wrappermode"]
    if wrapper is not None and not isinstance(wrapper, bool):
        errors.append(
            problem(
                host,
                "smtp_relay_tls_wrappermode",
                "%s is not true, false or null (null: on port 465 only)" % _text(wrapper),
            )
        )
        wrapper = None
    errors += _tls_problems(host, level, relayhost and wrappermode(relay_port, wrapper))
    errors += _credential_problems(
        host, auth, options["smtp_relay_username"], options["smtp_relay_password"]
    )
    if auth is True and not relayhost:
        errors.append(
            problem(
                host,
                "smtp_relay_auth",
                "true without smtp_relayhost: there is no smarthost to log in to",
            )
        )
    if auth is True and level in TLS_LEVELS and level not in TLS_LEVELS_FOR_A_PASSWORD:
        errors.append(
            problem(
                host,
                "smtp_relay_tls_level",
                "%s with smtp_relay_auth would send the password in clear: give encrypt, "
                "verify or secure" % _text(level),
            )
        )
    errors += _ca_problems(host, options["smtp_relay_tls_ca_certificates"])
    sender = options["smtp_sender_address"]
    if sender != "":
        errors += _address_problem(host, "smtp_sender_address", sender)
    errors += _recipient_map_problems(host, options["smtp_recipient_map"])
    return errors


def smarthost_settings(relayhost, port, level, *, wrapper, ca_certificates, auth):
    """The postfix main.cf settings (name, value) for relaying to smarthost ``relayhost``
    (``[host]:port``), in the order the role writes them. No secret: the password is in the
    root-only map they name."""
    settings = [
        ("relayhost", relayhost),
        ("smtp_tls_security_level", level),
        ("smtp_tls_wrappermode", "yes" if wrappermode(port, wrapper) else "no"),
        ("smtp_tls_mandatory_protocols", ">=TLSv1.2"),
        ("smtp_tls_loglevel", "1"),
    ]
    if ca_certificates or level in VERIFYING_LEVELS:
        settings.append(("smtp_tls_CAfile", GIVEN_CA_FILE if ca_certificates else SYSTEM_CA_FILE))
    if auth:
        settings += [
            ("smtp_sasl_auth_enable", "yes"),
            ("smtp_sasl_password_maps", "hash:%s" % SASL_PASSWORD_MAP),
            ("smtp_sasl_security_options", "noanonymous"),
            ("smtp_sasl_tls_security_options", "noanonymous"),
        ]
    return settings


def recipient_map_lines(recipient_map):
    """The lines of the texthash map from each programmed address to its real recipients."""
    return ["%s %s" % (entry["address"], ", ".join(entry["deliver_to"])) for entry in recipient_map]
