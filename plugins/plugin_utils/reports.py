# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Human-facing renderings of a compiled site model: the port matrix and a flow diagram.

Both are deterministic (same model, same bytes) because they land in review bundles that are
diffed between runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


def _port(value):
    return "any" if value is None else str(value)


def _escape_cell(text):
    return str(text).replace("|", "\\|")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def _row_hosts(model, row):
    return sorted(set(flow["pc_host"] for flow in model["flows"] if flow["row"] == row["id"]))


def port_matrix_summary(model):
    """One line per row in use, flows counted (MPCPUs times PC hosts): what validation prints.

    Reads no flows, so a model built without them (``compile_flows=False``) is enough.
    """
    return [
        "%s: %s MPCPU %s / PC %s, %s starts, %d flow(s)"
        % (
            row["purpose"],
            row["protocol"].upper(),
            row["mpcpu_port"] or "any",
            row["pc_port"] or "any",
            row["initiator"],
            len(model["mpcpus"]) * len(model["parts"].get(row["pc_part"], ())),
        )
        for row in model["rows"]
    ] + [
        "site flow %s: %s%s from %s to %s"
        % (
            flow["name"],
            str(flow["protocol"]).upper(),
            "" if flow["port"] is None else " port %d" % flow["port"],
            ", ".join(flow["from"]),
            ", ".join(flow["to"]),
        )
        for flow in model.get("extra_flows") or ()
    ]


def port_matrix(model):
    """The Appendix D rows as this site programs them, and every concrete flow."""
    lines = ["# Port matrix: %s" % model["name"], "", "## Rows", ""]
    lines += _table(
        ["Row", "Protocol", "MPCPU port", "PC port", "Who starts", "PC hosts", "Flows"],
        [
            (
                row["purpose"],
                row["protocol"].upper(),
                _port(row["mpcpu_port"]),
                _port(row["pc_port"]),
                row["initiator"].upper(),
                ", ".join(_row_hosts(model, row)),
                sum(1 for flow in model["flows"] if flow["row"] == row["id"]),
            )
            for row in model["rows"]
        ],
    )
    lines += ["", "## Flows", ""]
    lines += _table(
        ["MPCPU", "Row", "Protocol", "Source", "Destination"],
        [
            (
                flow["mpcpu"],
                flow["purpose"],
                flow["protocol"].upper(),
                "%s:%s" % (flow["src"], _port(flow["src_port"])),
                "%s:%s" % (flow["dst"], _port(flow["dst_port"])),
            )
            for flow in model["flows"]
        ],
    )
    lines += _extra_flows_table(model)
    return "\n".join(lines) + "\n"


def _extra_flows_table(model):
    """The site's own flows beside Appendix D (``mpcpu_site.extra_flows``), when it has any."""
    extra = model.get("extra_flows") or []
    if not extra:
        return []
    lines = ["", "## The site's own flows (beside Appendix D)", ""]
    lines += _table(
        ["Flow", "Protocol", "Port", "From", "To"],
        [
            (
                flow["name"],
                str(flow["protocol"]).upper(),
                _port(flow["port"]),
                "%s (%s)" % (", ".join(flow["from"]), ", ".join(flow["src"])),
                "%s (%s)" % (", ".join(flow["to"]), ", ".join(flow["dst"])),
            )
            for flow in extra
        ],
    )
    return lines


def _node_id(prefix, name):
    return prefix + "_" + re.sub(r"[^A-Za-z0-9]", "_", name)


def _edge_label(row):
    ports = "%s %s" % (
        row["protocol"].upper(),
        _port(row["pc_port"] if row["initiator"] == "mpcpu" else row["mpcpu_port"]),
    )
    return "%s<br/>%s" % (row["purpose"], ports)


def flow_diagram(model):
    """A Mermaid flowchart: one node per MPCPU network (devices counted), one per PC host.

    Arrows point from the side that starts to the side that listens. Devices are grouped by
    network so the diagram stays readable for thousands of MPCPUs.
    """
    devices_per_network = {}
    for device in model["mpcpus"]:
        devices_per_network.setdefault(device["network"], []).append(device)
    lines = ["flowchart LR"]
    for network in sorted(devices_per_network):
        count = len(devices_per_network[network])
        lines.append('  %s["MPCPUs on %s (%d)"]' % (_node_id("net", network), network, count))
    pc_hosts = sorted(set(flow["pc_host"] for flow in model["flows"]))
    for host in pc_hosts:
        lines.append('  %s["%s"]' % (_node_id("pc", host), host))
    edges = set()
    network_of = dict((device["name"], device["network"]) for device in model["mpcpus"])
    rows_by_id = dict((row["id"], row) for row in model["rows"])
    for flow in model["flows"]:
        edges.add((network_of[flow["mpcpu"]], flow["pc_host"], flow["row"]))
    row_order = list(rows_by_id)
    for network, host, row_id in sorted(edges, key=lambda e: (e[0], e[1], row_order.index(e[2]))):
        row = rows_by_id[row_id]
        mpcpu_node, pc_node = _node_id("net", network), _node_id("pc", host)
        start, end = (mpcpu_node, pc_node) if row["initiator"] == "mpcpu" else (pc_node, mpcpu_node)
        lines.append('  %s -->|"%s"| %s' % (start, _edge_label(row), end))
    return "\n".join(lines) + "\n"
