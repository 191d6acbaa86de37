# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TFTP for the MPCPU's "Setting Time / Firmware Upgrade" and "Snapshot" rows.

Standard library only (Python 3.11): modules that run on managed hosts import it.

Packet codec (public and stable: the MPCPU simulator's server side uses it)
    ``OP_*`` opcodes 1..6, ``ERR_*`` error codes 0..8, ``pack_request``, ``pack_data``,
    ``pack_ack``, ``pack_error``, ``pack_oack``, ``parse_packet`` -> ``Packet``, and
    ``negotiate_options`` (what a server acknowledges in its OACK).

Errors
    ``TftpError`` (base; ``str()`` is a message for a person), ``TftpTimeout``,
    ``TftpRemoteError`` (``.code``, ``.message``), ``TftpProtocolError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_client import (  # noqa: F401
    TftpClient,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_codec import (  # noqa: F401
    DEFAULT_BLKSIZE,
    DEFAULT_LIMITS,
    ERR_ACCESS,
    ERR_DISK_FULL,
    ERR_EXISTS,
    ERR_ILLEGAL_OP,
    ERR_NO_USER,
    ERR_NOT_FOUND,
    ERR_OPTIONS,
    ERR_UNDEFINED,
    ERR_UNKNOWN_TID,
    ERROR_MESSAGES,
    MAX_BLKSIZE,
    MAX_BLOCK,
    MAX_TIMEOUT,
    MAX_WINDOWSIZE,
    MIN_BLKSIZE,
    MIN_TIMEOUT,
    MIN_WINDOWSIZE,
    OP_ACK,
    OP_DATA,
    OP_ERROR,
    OP_OACK,
    OP_RRQ,
    OP_WRQ,
    OPCODE_NAMES,
    Packet,
    TftpError,
    TftpProtocolError,
    TftpRemoteError,
    TftpTimeout,
    negotiate_options,
    option_int,
    pack_ack,
    pack_data,
    pack_error,
    pack_oack,
    pack_request,
    parse_packet,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_session import (  # noqa: F401
    BACKOFF_CAP,
    DEFAULT_PORT,
    TransferResult,
)
