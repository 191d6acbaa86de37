# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters rendering a compiled site model for people: port matrix, flow diagram, bundle."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import bundle, reports
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import policy
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    HostVarsOnce,
)


def bundle_files(model, hostvars=None):
    """Every file of the change bundle, as {relative path: text}; with ``hostvars`` also each
    host's role options."""
    try:
        return bundle.bundle_files(model, HostVarsOnce(hostvars) if hostvars is not None else None)
    except policy.FirewallPolicyError as error:
        raise AnsibleFilterError(str(error)) from None


def bundle_template_jobs(model, hostvars):
    """The server roles' text files to render into the bundle, each with its variables."""
    return bundle.template_jobs(model, HostVarsOnce(hostvars))


class FilterModule(object):
    def filters(self):
        return {
            "port_matrix_markdown": reports.port_matrix,
            "flow_diagram_mermaid": reports.flow_diagram,
            "bundle_files": bundle_files,
            "bundle_template_jobs": bundle_template_jobs,
        }
