# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site model: inventory in, validated MPCPU site and concrete Appendix D flows out.

Controller side only (uses netaddr). Validation collects every problem before raising, each
message naming the host (or the ``mpcpu_site`` path) and the field, once, so an operator fixes
a broken inventory in one pass and no host is touched before it is clean. Whatever the YAML
shape, a bad inventory is reported, never a Python exception. Everything a later play, role,
renderer or module of the collection would refuse is refused here first (see README).

The model also carries one view per host (``model["hosts"][name]``, see ``host_view``): the
rows the host plays with their programmed ports, its addresses, its flows and the network of
each end, worked out once for every consumer. ``shapes`` defines both.

One job per module: ``settings`` (mpcpu_site itself), ``hosts`` (each host on its own),
``crosscheck`` (checks across hosts), ``hostvars`` (reading the inventory), ``flows``
(compiling flows and views), ``build`` (the entry points). Role options are checked by
``plugin_utils.role_options``; nothing here imports a consumer of the model.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import (
    Problems,
    SiteModelError,
    port_problem,
    problem,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.build import (
    assess_site,
    build_site,
    check_site,
    site_errors,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.flows import (
    compile_flows,
    empty_view,
    host_view,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hosts import (
    firmware_path,
)

__all__ = [
    "Problems",
    "SiteModelError",
    "assess_site",
    "build_site",
    "check_site",
    "compile_flows",
    "firmware_path",
    "empty_view",
    "host_view",
    "port_problem",
    "problem",
    "site_errors",
]
