# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TFTP for the MPCPU's "Setting Time / Firmware Upgrade" and "Snapshot" rows.

Standard library only (Python 3.11): modules that run on managed hosts import it.

Client
    ``TftpClient(host, port=69, *, blksize=None, windowsize=None, tsize=True, timeout=1.0,
    retries=5, total_timeout=60.0, rollover=0, source_address=None, timeout_option=None)``;
    ``read(remote_name, fileobj)`` and ``write(remote_name, fileobj, size=None)`` return a
    ``TransferResult`` (bytes, duration, blocks, retransmissions, options, blksize,
    windowsize). Octet mode only; ``fileobj`` is a binary file object.

Packet codec (public and stable: the MPCPU simulator's server side uses it)
    ``OP_*`` opcodes 1..6, ``ERR_*`` error codes 0..8, ``pack_request``, ``pack_data``,
    ``pack_ack``, ``pack_error``, ``pack_oack``, ``parse_packet`` -> ``Packet``, and
    ``negotiate_options`` (what a server acknowledges in its OACK).

Errors
    ``TftpError`` (base; ``str()`` is a message for a person), ``TftpTimeout``,
    ``TftpRemoteError`` (``.code``, ``.message``), ``TftpProtocolError``.

Behaviour choices of the client
    Options (RFC 2347-2349, 7440) are asked for only when set: ``blksize`` and
    ``windowsize`` when not None, ``timeout`` when ``timeout_option`` (whole seconds) is set,
    ``tsize`` unless ``tsize=False`` (a read asks with 0; a write announces ``size``, or the
    size found by seek/tell, and nothing for an unseekable file). The OACK is checked: a
    server may lower blksize and windowsize but not raise them, must keep the timeout as
    asked, and may not add options, except that one restating a default (blksize 512,
    windowsize 1) or giving tsize is tolerated because it changes nothing (tftpy does it).
    A bad OACK is answered with ERROR 8 and raises ``TftpProtocolError``.

    Fallbacks: a server that ignores options (answers with DATA 1 or ACK 0) gets 512-byte
    blocks one at a time; one that refuses them with ERROR 8 gets the request once more,
    from a new port, without options. ``TransferResult.options`` is then ``{}``.

    Retransmission (RFC 1123 4.2.3.2 asks for an adaptive timeout): the first wait follows
    the measured round trip, RFC 6298 style: SRTT + max(4 RTTVAR, ``MIN_RTO`` 0.2 s), at
    least 2 SRTT, rounded up to 10 ms, never more than ``timeout`` (or the negotiated
    timeout option), which is also the wait before anything is measured. Round trips are
    timed on the request, every 16th block in lock-step and one block per window, and
    only on packets sent once (Karn's rule). Each retransmission in a row doubles the
    wait, up to ``BACKOFF_CAP`` (16) times ``timeout``; the wait stays backed off until a
    packet sent once is answered. After ``retries`` retransmissions in a row the transfer
    fails with ``TftpTimeout``; ``total_timeout`` bounds the whole transfer,
    retransmissions included (None: no bound). What is sent again: the request; on a
    read, the last ACK; on a write, the window from the first unacknowledged block.

    Sorcerer's Apprentice (RFC 1123 4.2.3.1): a duplicate ACK never makes the writer send
    anything; only its timer does. The reader answers a copy of the last block it has
    (its ACK was lost) and the first packet past a gap, not every stray packet.

    Windows (RFC 7440): the writer keeps up to a window of blocks in flight and slides it
    on each new ACK, sending only blocks not sent yet: receivers acknowledge on their own
    cadence (every window from the start or from the sender's restart, or more often). A
    block goes again only for a loss: a timeout, or a new ACK short of the flight and off
    the receiver's cadence; then the blocks in flight are sent once more, and ACKs that a
    copy sent again may have drawn report no further loss. The ACK of the final block ends a write,
    even when the kernel reports an ICMP error (a late copy reaching the closed port) first.
    The reader acknowledges every ``windowsize`` blocks, the final block and the first
    packet past a gap.

    Failures say what is done (bytes and blocks acknowledged or received) and name the
    server by the host and port given, not its transfer port. ``TftpError.retryable`` says
    whether starting the transfer again may help: yes for timeouts, broken transfers and
    network errors; no for an ERROR from the server (but ERROR 5), a bad OACK, or a local
    file error.

    Block numbers: after block 65535 comes block 0 (``rollover=0``: atftpd, tftpd-hpa and
    tftpy do this) or block 1 (``rollover=1``). Both sides must agree; nothing on the wire
    negotiates it.

    Transfer IDs (RFC 1350): the first answer from the server's address fixes the peer's
    port. A packet from any other address or port gets ERROR 5 and is otherwise ignored
    (an ERROR is never answered); such packets are looked for every 256 blocks, on every
    timeout and at the end of the transfer. An ERROR from the peer raises
    ``TftpRemoteError``. A protocol violation by the peer is answered with ERROR 4, a
    local failure (a full disk, a socket error) with ERROR 0, before the exception is
    raised; socket and file errors are raised as ``TftpError`` naming the transfer.

    No dally after a read's final ACK: the file is complete; if that ACK is lost the
    server retransmits into a closed port and gives up on its own.

    Addresses: the host is resolved with getaddrinfo, IPv4 or IPv6, first answer first;
    ``source_address`` (an address, or (address, port)) picks the family and the local
    address.

    Speed: once the peer is known, its packets go through a second socket bound to the
    same port and connected to the peer (no address per packet, no route lookup), with
    the receive timeout in the kernel (SO_RCVTIMEO: no poll per packet), preallocated
    buffers, ``recv_into`` and per-block loops that keep their state in local variables.
    A windowed write hands each window to the kernel in one system call with UDP
    segmentation offload (Linux ``UDP_SEGMENT``; the kernel cuts it into one datagram per
    block), and sends one packet per call where the kernel lacks it or the device refuses;
    see benchmarks/tftp_client.py, benchmarks/tftp_path.py and benchmarks/README.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_client import (
    TftpClient,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_codec import (
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
from ansible_collections.megapower.mpcpu.plugins.module_utils._tftp_session import (
    BACKOFF_CAP,
    DEFAULT_PORT,
    MIN_RTO,
    TransferResult,
)

# The public surface (re-exported from the private modules that implement it).
__all__ = [
    "TftpClient",
    "DEFAULT_BLKSIZE",
    "DEFAULT_LIMITS",
    "ERR_ACCESS",
    "ERR_DISK_FULL",
    "ERR_EXISTS",
    "ERR_ILLEGAL_OP",
    "ERR_NO_USER",
    "ERR_NOT_FOUND",
    "ERR_OPTIONS",
    "ERR_UNDEFINED",
    "ERR_UNKNOWN_TID",
    "ERROR_MESSAGES",
    "MAX_BLKSIZE",
    "MAX_BLOCK",
    "MAX_TIMEOUT",
    "MAX_WINDOWSIZE",
    "MIN_BLKSIZE",
    "MIN_TIMEOUT",
    "MIN_WINDOWSIZE",
    "OP_ACK",
    "OP_DATA",
    "OP_ERROR",
    "OP_OACK",
    "OP_RRQ",
    "OP_WRQ",
    "OPCODE_NAMES",
    "Packet",
    "TftpError",
    "TftpProtocolError",
    "TftpRemoteError",
    "TftpTimeout",
    "negotiate_options",
    "option_int",
    "pack_ack",
    "pack_data",
    "pack_error",
    "pack_oack",
    "pack_request",
    "parse_packet",
    "BACKOFF_CAP",
    "DEFAULT_PORT",
    "MIN_RTO",
    "TransferResult",
]
