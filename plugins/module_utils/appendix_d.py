# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Appendix D of the MegaPower CPU administrator's guide (p. 68), as data.

This is the one place in the collection where the table's ports, protocols and directions
are written down. Everything else (site model, firewall renderings, service defaults,
modules, documentation, tests) reads them from here.

Standard library only: modules that run on managed hosts import it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import re

MPCPU = "mpcpu"
PC = "pc"

# Footnotes of the table.
MPCPU_SPECIFIC = "MPCPU specific"
NETWORK_SPECIFIED = "Network specified"

Row = collections.namedtuple(
    "Row",
    [
        "id",  # stable key used in inventories, port overrides and reports
        "purpose",  # the guide's "Purpose" column
        "protocol",  # "tcp" or "udp"
        "mpcpu_port",  # port on the MPCPU; None means "Any" (ephemeral)
        "pc_port",  # port on the PC/server; None means "Any"
        "listener",  # MPCPU or PC: the side that serves, so the other side starts
        "pc_part",  # the inventory group whose hosts play the PC side of this row
        "pc_role",  # the collection's role that sets the PC side up (None: the firewall only)
        "application",  # "tftp" and "dhcp" need special handling in firewalls
        "footnote",  # MPCPU_SPECIFIC or NETWORK_SPECIFIED
        "description",  # the guide's words, lightly cleaned
    ],
)

ROWS = (
    Row(
        id="activity_logging",
        purpose="Activity Logging",
        protocol="tcp",
        mpcpu_port=514,
        pc_port=None,
        listener=MPCPU,
        pc_part="mpcpu_log_collectors",
        pc_role="log_collector",
        application=None,
        footnote=MPCPU_SPECIFIC,
        description=(
            "Used as a server to listen for requests asking to initiate activity logging. "
            "These requests are normally sent from the activity logging client. Once a request "
            "is received and the connection is established, the port is used as the source for "
            "sending the activity logging data."
        ),
    ),
    Row(
        id="easy_cpu",
        purpose="EASY CPU",
        protocol="udp",
        mpcpu_port=4001,
        pc_port=None,
        listener=MPCPU,
        pc_part="mpcpu_easy_consoles",
        pc_role=None,
        application=None,
        footnote=MPCPU_SPECIFIC,
        description=(
            "Used to communicate (to the EASY CPU or any other such program) all available "
            "status or information data. This port works as a server where each received "
            "request produces one or more replies to the requesting client (usually to the "
            "EASY CPU)."
        ),
    ),
    Row(
        id="snapshot",
        purpose="Snapshot",
        protocol="udp",
        mpcpu_port=None,
        pc_port=69,
        listener=PC,
        pc_part="mpcpu_snapshot_receivers",
        pc_role="tftp_receiver",
        application="tftp",
        footnote=MPCPU_SPECIFIC,
        description=(
            "Used for sending JPEG images taken from a camera. Uses TFTP (Trivial File "
            "Transfer Protocol) for image transfer."
        ),
    ),
    Row(
        id="time_firmware",
        purpose="Setting Time / Firmware Upgrade",
        protocol="udp",
        mpcpu_port=69,
        pc_port=None,
        listener=MPCPU,
        pc_part="mpcpu_managers",
        pc_role="devices",
        application="tftp",
        footnote=MPCPU_SPECIFIC,
        description=(
            "Used to set or retrieve MPCPU calendar time. Uses TFTP (Trivial File Transfer "
            "Protocol) for the calendar time data transfer. Firmware upgrade uses the same port."
        ),
    ),
    Row(
        id="ntp",
        purpose="NTP",
        protocol="udp",
        mpcpu_port=123,
        pc_port=123,
        listener=PC,
        pc_part="mpcpu_ntp_servers",
        pc_role="ntp",
        application=None,
        footnote=NETWORK_SPECIFIED,
        description=(
            "NTP (Network Time Protocol) provides time synch between the MPCPU and network systems."
        ),
    ),
    Row(
        id="alarm_email",
        purpose="Alarm Email",
        protocol="tcp",
        mpcpu_port=None,
        pc_port=25,
        listener=PC,
        pc_part="mpcpu_smtp_relays",
        pc_role="smtp",
        application=None,
        footnote=NETWORK_SPECIFIED,
        description=(
            "This port of the server to which the MPCPU sends Email messages in response to "
            "an alarm."
        ),
    ),
    Row(
        id="ip_assignment",
        purpose="IP Address Assignment",
        protocol="udp",
        mpcpu_port=68,
        pc_port=67,
        listener=PC,
        pc_part="mpcpu_dhcp_servers",
        pc_role="dhcp",
        application="dhcp",
        footnote=NETWORK_SPECIFIED,
        description=(
            "Port 68 (source) assigns the IP address and is used for DHCP when enabled. Port 67 "
            "Bootstrap Protocol Server (destination) is the listening port on boot and DHCP "
            "servers. Clients broadcast to this port for boot or network parameters."
        ),
    ),
)

MAX_PORT = 65535

ROWS_BY_ID = collections.OrderedDict((row.id, row) for row in ROWS)

# Inventory groups of the site: the MPCPU devices, one group per PC part, and the optional
# router. The PC parts are exactly those the rows name, in table order.
DEVICE_GROUP = "mpcpu"
ROUTER_GROUP = "mpcpu_routers"
PC_PARTS = tuple(row.pc_part for row in ROWS)


def row_of_role(role):
    """The row whose PC side ``role`` sets up; KeyError names the roles that set one up."""
    for table_row in ROWS:
        if table_row.pc_role == role:
            return table_row
    known = ", ".join(table_row.pc_role for table_row in ROWS if table_row.pc_role)
    raise KeyError("no Appendix D row is set up by role %r (known: %s)" % (role, known))


def row(row_id):
    """Return the row called ``row_id``; KeyError names the known rows."""
    try:
        return ROWS_BY_ID[row_id]
    except KeyError:
        known = ", ".join(ROWS_BY_ID)
        raise KeyError("unknown Appendix D row %r (known: %s)" % (row_id, known)) from None


def initiator(table_row):
    """The side that starts the conversation: the one that does not listen."""
    return PC if table_row.listener == MPCPU else MPCPU


def with_ports(table_row, mpcpu_port=None, pc_port=None):
    """A copy of ``table_row`` with site-programmed ports (the guide: "must be programmed")."""
    changes = {}
    if mpcpu_port is not None:
        changes["mpcpu_port"] = mpcpu_port
    if pc_port is not None:
        changes["pc_port"] = pc_port
    return table_row._replace(**changes)


def as_dicts(rows=ROWS):
    """The rows as plain dicts, for templates and JSON."""
    result = []
    for table_row in rows:
        item = table_row._asdict()
        item["initiator"] = initiator(table_row)
        result.append(dict(item))
    return result


def value_text(value):
    """A short, printable form of any YAML value for a message (null, true, 'text', 12)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def quoted_number_problem(value):
    """The message for a number written in quotes (YAML then reads a string), or None."""
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?[0-9]+(\.[0-9]+)?\s*", value):
        return "%s is a string: write the number without quotes" % value_text(value)
    return None


def port_problem(value):
    """Why ``value`` is not a port number, or None when it is one: the collection's one port
    check, for the site model, the roles' options and the modules alike (``true`` is no port,
    though Python counts it as 1)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PORT:
        return None
    return quoted_number_problem(value) or "%s is not a port number from 1 to %d" % (
        value_text(value),
        MAX_PORT,
    )
