"""A cgroup of its own for every lab host.

With ``--register=no --keep-unit`` and no systemd on the machine, systemd-nspawn puts the
container in the cgroup it was started from. Hosts started from one process therefore share
one tree: every host's systemd creates and removes the same
``payload/system.slice/<unit>.service`` directories, so a unit one host has just finished can
have its cgroup removed under the same unit starting on another host, whose next process then
fails "at step CGROUP ... No such file or directory" and the host boots ``degraded``.
Starting each nspawn inside a child cgroup named after its machine keeps the trees apart.

Only the hierarchies systemd keeps its tree in are split (cgroup2 and the v1 ``name=systemd``
one); the resource controllers (the memory limit the machine may put on us) stay as they are.
"""

import contextlib
import os

from mpcpu_lab import paths


def _tree_hierarchies():
    """{mount point: the key /proc/self/cgroup names it by} for cgroup2 and name=systemd."""
    found = {}
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        for line in handle:
            _source, point, fstype, options = line.split()[:4]
            if fstype == "cgroup2":
                found[point] = ""
            elif fstype == "cgroup" and "name=systemd" in options.split(","):
                found[point] = "name=systemd"
    return found


def _current(key):
    with open("/proc/self/cgroup", encoding="utf-8") as handle:
        for line in handle:
            _number, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == key:
                return path
    return None


def _parents():
    parents = []
    for point, key in sorted(_tree_hierarchies().items()):
        current = _current(key)
        if current is not None:
            parents.append(os.path.join(point, current.lstrip("/")))
    return parents


def create(machine):
    """Make the machine's cgroup in every tree hierarchy; return their directories."""
    made = []
    for parent in _parents():
        path = os.path.join(parent, machine)
        os.makedirs(path, exist_ok=True)
        made.append(path)
    return made


def enter(directories):
    """Move the calling process into the given cgroups (a ``preexec_fn`` before nspawn)."""
    for directory in directories:
        with open(os.path.join(directory, "cgroup.procs"), "w", encoding="ascii") as handle:
            handle.write("0")


def remove(directory):
    """Remove a host's cgroup and what its systemd left below it (its processes are gone)."""
    if not os.path.isdir(directory):
        return
    for below, _dirs, _files in os.walk(directory, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(below)


def leftovers():
    """Lab cgroups still on the machine."""
    prefix = paths.PREFIX + "-"
    found = []
    for parent in _parents():
        with contextlib.suppress(OSError):
            found.extend(
                os.path.join(parent, name) for name in os.listdir(parent) if name.startswith(prefix)
            )
    return sorted(found)
