# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hot-standby pairs: two MPCPUs that name each other in ``mpcpu_mate``.

A MegaPower 3200 runs its CPUs as A/B pairs: one selected, its mate standing by. A pair is
exactly two CPUs naming each other; each problem is reported once, on the CPU whose
``mpcpu_mate`` is wrong. Mates sharing an address or a MAC are already reported by the
site-wide uniqueness checks, so not again here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model.hostvars import (
    host_vars_of,
)

_text = appendix_d.value_text

MATE_KEY = "mpcpu_mate"


def _named_mates(names, hostvars, problems):
    """Each CPU's ``mpcpu_mate`` when it names another MPCPU of the site; problems for the rest."""
    mates = {}
    for name in names:
        mate = host_vars_of(hostvars, name).get(MATE_KEY)
        if mate is None:
            continue
        if not isinstance(mate, str) or mate not in names:
            problems.add(
                name, MATE_KEY, "%s is not an MPCPU of group mpcpu: name its mate" % _text(mate)
            )
        elif mate == name:
            problems.add(name, MATE_KEY, "names the CPU itself: its mate is the other CPU")
        else:
            mates[name] = mate
    return mates


def _unreturned(name, mate, mates):
    """Why ``name`` naming ``mate`` does not make a pair, or None when it does."""
    mates_mate = mates.get(mate)
    if mates_mate == name:
        return None
    if mates_mate is None:
        return "%s names no mate: set mpcpu_mate: %s on %s too" % (mate, name, mate)
    if mates.get(mates_mate) == mate:
        return "%s is already paired with %s: a pair is exactly two CPUs" % (mate, mates_mate)
    return "%s names %s as its mate, not %s: mates name each other" % (mate, mates_mate, name)


def _reaching(network, routers, pc_hosts):
    """The PC-side hosts that reach ``network``: on it, or on a network a router joins to it."""
    joined = set([network])
    for router in routers:
        if network in router["networks"]:
            joined.update(router["networks"])
    return sorted(host["name"] for host in pc_hosts if host and host.get("network") in joined)


def _check_networks(first, second, routers, pc_hosts, problems):
    if first["network"] == second["network"]:
        return
    reach = [_reaching(d["network"], routers, pc_hosts) for d in (first, second)]
    if reach[0] != reach[1]:
        problems.add(
            first["name"],
            MATE_KEY,
            "its network %s and its mate %s's network %s are not reached by the same servers "
            "(%s; %s): the standby CPU must take over every flow"
            % (
                first["network"],
                second["name"],
                second["network"],
                ", ".join(reach[0]) or "none",
                ", ".join(reach[1]) or "none",
            ),
        )


def check_pairs(names, hostvars, devices, problems, reach):
    """Set each device's ``mate`` (None when unpaired) and report every bad pair once;
    ``reach`` is (routers, PC-side hosts), to compare the servers each mate's network reaches."""
    routers, pc_hosts = reach
    mates = _named_mates(sorted(names), hostvars, problems)
    pairs = {}
    for name, mate in sorted(mates.items()):
        reason = _unreturned(name, mate, mates)
        if reason:
            problems.add(name, MATE_KEY, reason)
        else:
            pairs[name] = mate
    by_name = dict((device["name"], device) for device in devices)
    for device in devices:
        device["mate"] = pairs.get(device["name"])
    for name, mate in sorted(pairs.items()):
        if name < mate and name in by_name and mate in by_name:
            _check_networks(by_name[name], by_name[mate], routers, pc_hosts.values(), problems)
