# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus metrics as node_exporter's textfile collector reads them.

``render`` turns metric families into the text exposition format (version 0.0.4: ``# HELP``,
``# TYPE``, one sample per line, label values and help text escaped); ``write_atomically``
puts the text into the textfile directory so that a scrape sees the old file or the new one,
never half of one. Standard library only and no Ansible: the collection's daemons and checks
on the PC-side hosts import it as a plain module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import math
import os
import re
import tempfile

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = ("counter", "gauge", "untyped")


class Family:
    """One metric: its name, type, help text and samples (label mapping, value)."""

    def __init__(self, name, kind, help_text, samples=()):
        self.name = name
        self.kind = kind
        self.help_text = help_text
        self.samples = list(samples)

    def add(self, labels, value):
        self.samples.append((dict(labels), value))
        return self


def _check_family(family):
    if not METRIC_NAME.match(family.name) or family.name.startswith("__"):
        raise ValueError("%r is not a metric name" % (family.name,))
    if family.kind not in TYPES:
        raise ValueError("%s: type %r is not one of %s" % (family.name, family.kind, TYPES))
    if family.kind == "counter" and not family.name.endswith("_total"):
        raise ValueError("%s: a counter's name ends with _total" % family.name)
    seen = set()
    for labels, _value in family.samples:
        for label in labels:
            if not LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError("%s: %r is not a label name" % (family.name, label))
        key = tuple(sorted(labels.items()))
        if key in seen:
            raise ValueError("%s: two samples with the labels %r" % (family.name, dict(key)))
        seen.add(key)


def escape_help(text):
    """HELP text: backslash and line feed escaped."""
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(text):
    """A label value: backslash, double quote and line feed escaped."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value):
    """A sample value as Prometheus writes it: integers exact, floats in full, NaN, +Inf."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _sample_line(name, labels, value):
    if not labels:
        return "%s %s" % (name, format_value(value))
    pairs = ",".join(
        '%s="%s"' % (label, escape_label_value(labels[label])) for label in sorted(labels)
    )
    return "%s{%s} %s" % (name, pairs, format_value(value))


def render(families):
    """The exposition text of ``families`` (in the given order); ValueError names a bad one."""
    names = [family.name for family in families]
    lines = []
    for family in families:
        _check_family(family)
        if names.count(family.name) > 1:
            raise ValueError(
                "%s: the metric is given %d times" % (family.name, names.count(family.name))
            )
        lines.append("# HELP %s %s" % (family.name, escape_help(family.help_text)))
        lines.append("# TYPE %s %s" % (family.name, family.kind))
        lines.extend(_sample_line(family.name, labels, value) for labels, value in family.samples)
    return "".join(line + "\n" for line in lines)


def write_atomically(directory, file_name, text, mode=0o644):
    """Replace ``directory/file_name`` by ``text`` in one rename.

    The temporary file starts with a dot and does not end in ``.prom``, so node_exporter
    never reads it; the file is readable by node_exporter's account whatever the writer's
    umask.
    """
    if not file_name.endswith(".prom") or "/" in file_name:
        raise ValueError(
            "%r: a textfile collector file is a plain name ending in .prom" % file_name
        )
    descriptor, temporary = tempfile.mkstemp(
        prefix="." + file_name + ".", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, os.path.join(directory, file_name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return os.path.join(directory, file_name)
