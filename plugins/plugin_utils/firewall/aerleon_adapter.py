# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Aerleon behind one door: the only module of the collection that imports it.

The appliance targets use more of Aerleon than ``aerleon.api``: its policy builder, its
generator table (``PluginSupervisor.generators``) and AclCheck, whose private ``_AddrMatch`` is
replaced by a bisecting one for large sites. Private names can move in any release, so the
supported releases are a range (``REQUIREMENT``, the same in every requirements file), and
``require`` checks, once per process before anything renders, that the installed version is
inside it and that every name used is still where it was. Its errors name the installed
version and the name that moved, instead of an AttributeError deep inside a render.

Aerleon is optional: the collection loads without it, and ``require`` names the pip command.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import copy
import importlib.metadata
import inspect
import re
from collections.abc import Mapping

try:
    from aerleon.lib import aclcheck as _aclcheck
    from aerleon.lib import naming as _naming
    from aerleon.lib import plugin_supervisor as _plugin_supervisor
    from aerleon.lib import policy as _policy
    from aerleon.lib import policy_builder as _policy_builder
except ImportError:  # pragma: no cover - exercised by test_the_collection_loads_without_aerleon
    _aclcheck = None

INSTALLED = _aclcheck is not None
DISTRIBUTION = "aerleon"
# Supported: 1.18.x, the release the golden files and the hook checks were proven on. The hooks
# are private, so a new minor release must be tested before the bound moves.
LOWEST = (1, 18)
BELOW = (1, 19)
REQUIREMENT = "aerleon>=1.18,<1.19"
EXPIRY_WARNING_WEEKS = 2  # what aerleon.api.Generate and aclgen pass to a generator
# The names used beyond aerleon.api, as (module, attribute path): each must still be callable.
HOOKS = (
    ("aclcheck", "AclCheck._AddrMatch"),
    ("aclcheck", "AclCheck.Matches"),
    ("naming", "Naming.ParseDefinitionsObject"),
    ("policy", "FromBuilder"),
    ("policy_builder", "PolicyBuilder"),
    ("plugin_supervisor", "PluginSupervisor.Start"),
)
# The private method the indexed AclCheck overrides, with the parameters its override takes.
ADDR_MATCH_PARAMETERS = ("self", "addr", "addresses")

_verified = []  # holds True once check() has passed in this process


class AerleonError(Exception):
    """Aerleon is missing, outside the supported range, or a name the collection uses moved."""


# --- the checks ----------------------------------------------------------------------------------


def installed_version():
    """The installed aerleon's version string, or None when pip has no record of it."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def _release(version):
    """(major, minor) of a version string, or None when it does not start with them."""
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return tuple(int(number) for number in found.groups()) if found else None


def version_problem(version):
    """Why ``version`` is not supported, or None when it is inside the range."""
    release = _release(version)
    if release is not None and LOWEST <= release < BELOW:
        return None
    return "aerleon %s is installed; megapower.mpcpu supports %s: pip install '%s'" % (
        version or "(version unknown)",
        REQUIREMENT,
        REQUIREMENT,
    )


def _modules():
    return {
        "aclcheck": _aclcheck,
        "naming": _naming,
        "plugin_supervisor": _plugin_supervisor,
        "policy": _policy,
        "policy_builder": _policy_builder,
    }


def _lookup(owner, path):
    for name in path.split("."):
        owner = getattr(owner, name, None)
    return owner


def _addr_match_changed():
    method = getattr(_aclcheck.AclCheck, "_AddrMatch", None)
    if not callable(method):
        return False  # reported as gone by the HOOKS walk
    return tuple(inspect.signature(method).parameters) != ADDR_MATCH_PARAMETERS


def missing_hooks():
    """The names the collection uses that this Aerleon lacks or has changed, e.g.
    ["AclCheck._AddrMatch"]. Starts the plugin supervisor: its generator table exists only then."""
    modules = _modules()
    missing = [path for module, path in HOOKS if not callable(_lookup(modules[module], path))]
    if _addr_match_changed():
        missing.append("AclCheck._AddrMatch%s" % (ADDR_MATCH_PARAMETERS,))
    if "PluginSupervisor.Start" not in missing:
        _plugin_supervisor.PluginSupervisor.Start()
        if not isinstance(_lookup(_plugin_supervisor, "PluginSupervisor.generators"), Mapping):
            missing.append("PluginSupervisor.generators")
    return missing


def check():
    """Raise AerleonError unless a supported Aerleon with every hook is installed."""
    if not INSTALLED:
        raise AerleonError(
            "appliance targets are rendered with Aerleon, which is not installed on the "
            "controller: pip install '%s' (or add it to the execution environment's python "
            "requirements)" % REQUIREMENT
        )
    version = installed_version()
    problem = version_problem(version)
    if problem:
        raise AerleonError(problem)
    missing = missing_hooks()
    if missing:
        raise AerleonError(
            "aerleon %s: %s %s gone or changed; megapower.mpcpu supports %s"
            % (version, ", ".join(missing), "is" if len(missing) == 1 else "are", REQUIREMENT)
        )


def require():
    """``check`` once per process: what is installed does not change while it runs."""
    if not (INSTALLED and _verified):
        check()
        _verified.append(True)


# --- what the appliance targets use ------------------------------------------------------------


def naming_from(definitions):
    """Aerleon's definitions object for the networks and services of ``definitions``."""
    names = _naming.Naming()
    names.ParseDefinitionsObject(definitions, "mpcpu")
    return names


def compile_policy(data, names):
    """Aerleon's policy object for a policy dict (what ``aerleon.api.Generate`` builds)."""
    return _policy.FromBuilder(_policy_builder.PolicyBuilder(data, names))


def generate(compiled, target):
    """What Aerleon's generator for ``target`` writes for the policy object ``compiled``, as
    ``aerleon.api.Generate`` and aclgen do (same generator, same expiry warning)."""
    _plugin_supervisor.PluginSupervisor.Start()
    generator = _plugin_supervisor.PluginSupervisor.generators[target]
    return str(generator(compiled, EXPIRY_WARNING_WEEKS))


def single_filter_policies(compiled):
    """One policy object per filter of ``compiled``: AclCheck walks every filter it is given."""
    views = []
    for parsed in compiled.filters:
        view = copy.copy(compiled)
        view.filters = [parsed]
        views.append(view)
    return views


# --- AclCheck with an indexed address match ----------------------------------------------------


def _merged_ranges(addresses, version):
    ranges = sorted(
        (int(net.network_address), int(net.network_address) + net.num_addresses - 1)
        for net in addresses
        if net.version == version
    )
    merged = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [r[0] for r in merged], [r[1] for r in merged]


def indexed_aclcheck():
    """AclCheck whose address match for a single address bisects sorted ranges.

    AclCheck compares a probe with every address of a term, one by one: with 10,000 MPCPUs a
    check took 8-26 s per target. For a host address the answer is the same (a /32 is never a
    partial match), so only that step is replaced; everything else is Aerleon's."""

    class IndexedAclCheck(_aclcheck.AclCheck):
        ranges = {}  # id(address list) -> (the list, starts, ends), per checker

        def _AddrMatch(self, addr, addresses):
            if not addresses or addr == "any" or addr.num_addresses != 1:
                return super()._AddrMatch(addr, addresses)
            cached = self.ranges.get(id(addresses))
            if cached is None or cached[0] is not addresses:
                cached = (addresses,) + _merged_ranges(addresses, addr.version)
                self.ranges[id(addresses)] = cached
            value = int(addr.network_address)
            index = bisect.bisect_right(cached[1], value) - 1
            return "full" if index >= 0 and value <= cached[2][index] else False

    return IndexedAclCheck
