# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alarm e-mail (row alarm_email): the MPCPU sends one message to an SMTP relay."""

import datetime
import email.message
import email.utils
import smtplib

from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import (
    ClientError,
    row_ports,
)

UTC = datetime.timezone.utc


def alarm_message(device_name, alarm, sender, recipients):
    moment = datetime.datetime.now(UTC)
    message = email.message.EmailMessage()
    message["Subject"] = "MPCPU %s alarm %d" % (device_name, alarm)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.format_datetime(moment)
    message["Message-ID"] = email.utils.make_msgid(domain="mpcpu.example")
    message.set_content(
        "MPCPU %s reports alarm %d at %s UTC.\n"
        % (device_name, alarm, moment.strftime("%Y-%m-%dT%H:%M:%S"))
    )
    return message


def send(source, relay, device_name, alarm, *, sender=None, recipients=None, port=None, timeout=10):
    """Send the alarm mail from ``source``; {reply, ...} or ClientError."""
    source_port, table_port = row_ports("alarm_email")
    port = port or table_port
    sender = sender or "%s@mpcpu.example" % device_name
    recipients = list(recipients or ["alarms@mpcpu.example"])
    message = alarm_message(device_name, alarm, sender, recipients)
    try:
        with smtplib.SMTP(
            relay,
            port,
            local_hostname=device_name,
            timeout=timeout,
            source_address=(source, source_port or 0),  # "any" in the table: ephemeral
        ) as smtp:
            smtp.ehlo_or_helo_if_needed()
            code, text = smtp.mail(sender)
            _check("MAIL FROM", code, text)
            for recipient in recipients:
                code, text = smtp.rcpt(recipient)
                _check("RCPT TO:<%s>" % recipient, code, text)
            code, text = smtp.data(message.as_bytes())
            _check("DATA", code, text)
    except (smtplib.SMTPException, OSError) as error:
        raise ClientError("alarm mail to %s port %d failed: %s" % (relay, port, error)) from None
    return {
        "relay": "%s:%d" % (relay, port),
        "source": source,
        "subject": message["Subject"],
        "message_id": message["Message-ID"],
        "reply": "%d %s" % (code, text.decode("utf-8", "replace")),
    }


def _check(step, code, text):
    if not 200 <= code < 400:
        reply = text.decode("utf-8", "replace")
        raise smtplib.SMTPResponseException(code, "%s refused: %s" % (step, reply))
