# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firmware rollout order: no batch ever holds both CPUs of a hot-standby pair.

The rollout runs in two waves, each a play with its own batches: first every standby CPU and
every unpaired one, then every selected CPU. Two mates are never in one wave, so never in one
batch, whatever the batch size and the inventory order; and a selected CPU is flashed only
after the play of its mate (flashed, answering with the new version) has ended.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _selected(reported, name):
    """True, False or None (the device did not say, or did not answer)."""
    return (reported.get(name) or {}).get("selected")


def _pair_order(first, second, reported):
    """(standby, selected, warning or None) for a pair, ``first`` listed first."""
    says = (_selected(reported, first), _selected(reported, second))
    if says in ((True, False), (True, None)):
        return second, first, None
    if says in ((False, True), (None, True)):
        return first, second, None
    return (
        first,
        second,
        "%s and %s: the CPUs do not say which one is selected (status replies read %s and %s): "
        "flashing in inventory order, %s first, %s once it answers with the new version"
        % (first, second, _said(says[0]), _said(says[1]), first, second),
    )


def _said(selected):
    return {True: "selected", False: "standby", None: "nothing"}[selected]


def firmware_waves(model, reported, inventory_order):
    """``{"first": [...], "second": [...], "warnings": [...]}`` for the MPCPUs of ``model``.

    ``reported`` maps an MPCPU to what its status replies said (``mpcpu_status``'s
    ``reported``); ``inventory_order`` is group mpcpu as the inventory lists it, which orders
    each wave and decides a pair whose CPUs do not say which one is selected.
    """
    position = dict((name, index) for index, name in enumerate(inventory_order))
    devices = sorted(
        model["mpcpus"], key=lambda d: (position.get(d["name"], len(position)), d["name"])
    )
    first, second, warnings = [], [], []
    placed = set()
    for device in devices:
        name, mate = device["name"], device.get("mate")
        if name in placed:
            continue
        if mate is None:
            first.append(name)
            placed.add(name)
            continue
        standby, selected, warning = _pair_order(name, mate, reported)
        first.append(standby)
        second.append(selected)
        placed.update((name, mate))
        if warning:
            warnings.append(warning)
    return {
        "first": _in_order(first, position),
        "second": _in_order(second, position),
        "warnings": warnings,
    }


def _in_order(names, position):
    return sorted(names, key=lambda name: (position.get(name, len(position)), name))
