# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The output targets, one small class each, registered in one table.

Every target reads the same validated host policy (``policy.build_host_policy``) and returns
its files as ``{relative path: text}``; the same policy always gives byte-identical files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    cisco_ios,
    firewalld,
    iptables,
    nftables,
)


class Target(object):
    """A firewall platform: its name, what it writes, and how."""

    name = None
    main_file = None
    applied = False  # whether the role loads it on hosts, or only renders it

    def render(self, policy):
        raise NotImplementedError


class Nftables(Target):
    name = "nftables"
    main_file = "mpcpu.nft"
    applied = True

    def render(self, policy):
        return {self.main_file: nftables.render(policy)}


class IptablesRestore(Target):
    name = "iptables"
    main_file = "mpcpu.rules"
    ipv6_file = "mpcpu6.rules"  # for ip6tables-restore: IPv6 is a second file
    applied = True

    def render(self, policy):
        return {self.main_file: iptables.render(policy), self.ipv6_file: iptables.render6(policy)}


class Firewalld(Target):
    name = "firewalld"

    def render(self, policy):
        return firewalld.render_files(policy)


class CiscoIos(Target):
    name = "cisco_ios"
    main_file = "mpcpu-acl.ios"

    def render(self, policy):
        return {self.main_file: cisco_ios.render(policy)}


TARGETS = {target.name: target() for target in (Nftables, IptablesRestore, Firewalld, CiscoIos)}


def target(name):
    """The target called ``name``; KeyError names the known ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise KeyError(
            "unknown firewall target %r (known: %s)" % (name, ", ".join(sorted(TARGETS)))
        ) from None


def render_files(host_policy, target_names):
    """The files of several targets for one host, as {"<target>/<relative path>": text}."""
    files = {}
    for name in target_names:
        for path, text in target(name).render(host_policy).items():
            files["%s/%s" % (name, path)] = text
    return files
