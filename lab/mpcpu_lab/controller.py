"""A lab host as the Ansible controller: a venv with a chosen ansible-core, inside the host.

Lab hosts have no route out, so the wheels are fetched on the machine (for the host's Python,
whatever the machine runs) and carried in over SSH; pip inside the host installs them with
``--no-index``. The checkout is in every host at /opt/megapower (read-only), the lab's SSH key
is copied to where inventories/lab looks for it (``$MPCPU_LAB_CACHE/ssh``).
"""

import io
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile

from mpcpu_lab import lab, paths

ANSIBLE_CORE = "2.21.5"
PYTHON = "3.13"
LAB_CACHE = "/root/.cache/megapower-mpcpu"
CHECKOUT = "/opt/megapower"


def wheels_dir(core=ANSIBLE_CORE, python=PYTHON):
    return os.path.join(paths.cache_dir(), "wheels", "ansible-core-%s-py%s" % (core, python))


def fetch_wheels(core=ANSIBLE_CORE, python=PYTHON):
    """Download (once) ansible-core and netaddr with their dependencies as wheels."""
    target = wheels_dir(core, python)
    if os.path.isdir(target):
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    staging = tempfile.mkdtemp(dir=os.path.dirname(target))
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    argv += ["--python-version", python, "--platform", "manylinux2014_x86_64", "--platform", "any"]
    argv += ["-d", staging, "ansible-core==%s" % core, "netaddr"]
    try:
        subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.rename(staging, target)
    return target


def _ssh(state, host, command, stdin=None, timeout=300):
    return subprocess.run(
        lab.ssh_argv(state, host, command),
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def _tar(sources):
    """A tar stream of {name inside the archive: file or directory on the machine}."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        for name, path in sources.items():
            archive.add(path, arcname=name)
    return stream.getvalue()


def venv(core=ANSIBLE_CORE):
    return "/opt/ansible-core-%s" % core


def install(state, host, wheels, core=ANSIBLE_CORE):
    """Build the controller venv in ``host``; raise RuntimeError with pip's output on failure."""
    key = state["ssh_key"]
    bundle = _tar({"wheels-" + core: wheels, "id_ed25519": key})
    script = " && ".join(
        (
            "mkdir -p /root/controller %s/ssh" % LAB_CACHE,
            "tar -C /root/controller -x",
            "install -m 0600 /root/controller/id_ed25519 %s/ssh/id_ed25519" % LAB_CACHE,
            "python3 -m venv %s" % venv(core),
            "%s/bin/pip install --quiet --no-index --find-links /root/controller/wheels-%s"
            " ansible-core==%s netaddr" % (venv(core), core, core),
        )
    )
    result = _ssh(state, host, script, stdin=bundle)
    if result.returncode != 0:
        raise RuntimeError(result.stdout.decode() + result.stderr.decode())


def ansible(state, host, tool, *args, core=ANSIBLE_CORE, timeout=900):
    """Run an Ansible tool of the controller venv in the checkout; CompletedProcess (text)."""
    environment = {
        "ANSIBLE_CONFIG": CHECKOUT + "/ansible.cfg",
        "ANSIBLE_NOCOLOR": "1",
        "MPCPU_LAB_CACHE": LAB_CACHE,
    }
    command = "cd %s && env %s %s" % (
        CHECKOUT,
        " ".join("%s=%s" % item for item in sorted(environment.items())),
        shlex.join(["%s/bin/%s" % (venv(core), tool), *args]),
    )
    result = _ssh(state, host, command, timeout=timeout)
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )
