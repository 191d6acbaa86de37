# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn verify probe results into reports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import verify_metrics, verify_report


def verify_markdown(results, model, firewalls=None):
    return verify_report.markdown(model, results, firewalls)


def verify_junit(results, model):
    return verify_report.junit_xml(model, results)


def verify_summary(results, model):
    return verify_report.summary(model, results)


def verify_prometheus(results, model, finished_at):
    return verify_metrics.text(model, results, float(finished_at))


class FilterModule(object):
    def filters(self):
        return {
            "verify_markdown": verify_markdown,
            "verify_junit": verify_junit,
            "verify_summary": verify_summary,
            "verify_prometheus": verify_prometheus,
        }
