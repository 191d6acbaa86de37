# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether an inventory value still holds Jinja that Ansible would template."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping


def has_template(value):
    """True when ``value`` (or anything inside it) holds a Jinja expression or statement."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(has_template(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_template(item) for item in value)
    return False
