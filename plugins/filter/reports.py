# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters rendering a compiled site model for people: port matrix and flow diagram."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import reports


class FilterModule(object):
    def filters(self):
        return {
            "port_matrix_markdown": reports.port_matrix,
            "flow_diagram_mermaid": reports.flow_diagram,
        }
