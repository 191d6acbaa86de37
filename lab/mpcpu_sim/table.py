"""The Appendix D rows the simulator plays, read from the collection's one table.

Inside a lab host the checkout is mounted at /opt/megapower; in a checkout the collection is
reachable through the repository's ``collections/`` link. Either is put on ``sys.path`` when
the collection is not importable yet, so ``python3 -m mpcpu_sim`` works with or without the
``lab/bin/mpcpu-sim`` wrapper.
"""

import importlib
import os
import sys

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_COLLECTION_ROOTS = (
    os.path.join(_CHECKOUT, "collections"),
    "/opt/megapower/collections",
)


_MODULE_UTILS = "ansible_collections.megapower.mpcpu.plugins.module_utils."


def _import_collection():
    try:
        importlib.import_module(_MODULE_UTILS + "appendix_d")
    except ImportError:
        for root in _COLLECTION_ROOTS:
            if os.path.isdir(root) and root not in sys.path:
                sys.path.append(root)
    return (
        importlib.import_module(_MODULE_UTILS + "appendix_d"),
        importlib.import_module(_MODULE_UTILS + "tftp"),
    )


def collection_module(name):
    """A module of the collection's module_utils, e.g. ``_clients.sntp``."""
    return importlib.import_module(_MODULE_UTILS + name)


# The collection's table, and its TFTP codec and client (the simulator has no TFTP code of
# its own): every other simulator module imports them from here.
appendix_d, tftp = _import_collection()

# The rows where the MPCPU listens (server side of the simulator).
SERVED_ROWS = tuple(row.id for row in appendix_d.ROWS if row.listener == appendix_d.MPCPU)
# The rows where the MPCPU starts the conversation (client subcommands).
CLIENT_ROWS = tuple(row.id for row in appendix_d.ROWS if row.listener == appendix_d.PC)


def server_ports(offset=0, overrides=None):
    """{row id: port the simulated MPCPU listens on}, from the table.

    ``offset`` is added to every port (unprivileged test runs); ``overrides`` maps a row id to
    an exact port and wins over the offset. Port 0 lets the kernel choose, per address.
    """
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(SERVED_ROWS)
    if unknown:
        raise ValueError(
            "port override for a row the simulator does not serve: %s (served: %s)"
            % (", ".join(sorted(unknown)), ", ".join(SERVED_ROWS))
        )
    ports = {}
    for row_id in SERVED_ROWS:
        port = overrides.get(row_id)
        if port is None:
            port = appendix_d.row(row_id).mpcpu_port + offset
        ports[row_id] = _checked_port(row_id, port)
    return ports


def client_ports(row_id):
    """(MPCPU source port or None for ephemeral, PC destination port) of a client row."""
    table_row = appendix_d.row(row_id)
    return table_row.mpcpu_port, table_row.pc_port


def protocol(row_id):
    return appendix_d.row(row_id).protocol


def _checked_port(row_id, port):
    if not 0 <= int(port) <= 65535:
        raise ValueError("port for %s out of range: %r" % (row_id, port))
    return int(port)
