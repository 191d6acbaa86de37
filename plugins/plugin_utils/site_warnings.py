# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a valid site allows but probably does not mean: warnings, in the problems' form.

- A variable in a role's namespace (``smtp_*`` on a host the smtp role runs on) that the
  role's argument spec does not declare: the role ignores it, so a misspelt option
  (``smtp_relayhost_username``) silently does nothing. Named with the closest declared option.
  Only a warning by default, since another role or collection may share the prefix; an error
  with ``strict_options``.
- An NTP server with no upstream: chrony serves the host's own clock to the MPCPUs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import Problems, merged

NTP_PART = "mpcpu_ntp_servers"
NTP_DEFAULT_STRATUM = 10
CLOSE_CUTOFF = 0.6

_DECLARED = {}


def declared_spec(role):
    """Every option ``role``'s argument spec declares (its entry points together), by name."""
    if role not in _DECLARED:
        _DECLARED[role] = dict(
            (name, option or {})
            for entry in role_options.spec_entries(role).values()
            for name, option in (entry.get("options") or {}).items()
        )
    return _DECLARED[role]


def declared_options(role):
    return frozenset(declared_spec(role))


def role_hosts(model, part):
    """The hosts ``part`` names (None: every part host and router, where the firewall runs)."""
    if part is not None:
        return [host["name"] for host in model["parts"].get(part, ())]
    names = set(host["name"] for hosts in model["parts"].values() for host in hosts)
    return sorted(names | set(router["name"] for router in model["routers"]))


def _closest_option(role, name):
    """The declared option closest to ``name``, compared without the shared prefix (every
    option of the role starts with it, which would make any two names look alike)."""
    prefix = role + "_"
    options = dict(
        (option[len(prefix) :], option)
        for option in declared_options(role)
        if option.startswith(prefix)
    )
    close = difflib.get_close_matches(name[len(prefix) :], sorted(options), 1, CLOSE_CUTOFF)
    return options[close[0]] if close else None


def _unknown_option_message(role, name):
    close = _closest_option(role, name)
    hint = (
        "did you mean %s?" % close
        if close
        else "its options: ansible-doc -t role megapower.mpcpu.%s" % role
    )
    return "not an option of role %s, which runs on this host and ignores it; %s" % (role, hint)


def unknown_role_options(model, hostvars):
    """``host: variable: message`` for each undeclared variable in a role's namespace, on the
    hosts that role runs on."""
    found = Problems()
    for role, part in role_options.ROLE_PARTS:
        prefix = role + "_"
        for host in role_hosts(model, part):
            for name in sorted(hostvars[host]):
                if name.startswith(prefix) and name not in declared_options(role):
                    found.add(host, name, _unknown_option_message(role, name))
    return list(found)


def ntp_without_upstreams(model, hostvars):
    found = Problems()
    for host in model["parts"].get(NTP_PART, ()):
        host_vars = hostvars[host["name"]]
        if host_vars.get("ntp_upstream_servers"):
            continue
        stratum = host_vars.get("ntp_local_stratum", NTP_DEFAULT_STRATUM)
        found.add(
            host["name"],
            "ntp_upstream_servers",
            "empty: this NTP server gives the MPCPUs its own clock, at stratum %s "
            "(ntp_local_stratum); name upstream servers in ntp_upstream_servers unless this "
            "host's clock is kept right another way" % stratum,
        )
    return list(found)


def site_warnings(model, hostvars, strict_options=False):
    """``(errors, warnings)``: undeclared role options are errors with ``strict_options``."""
    unknown = unknown_role_options(model, hostvars)
    others = ntp_without_upstreams(model, hostvars)
    if strict_options:
        return merged(unknown), merged(others)
    return [], merged(unknown + others)
