"""Run Ansible's command-line tools from the checkout, as an operator would."""

import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def environment(**extra):
    """The caller's environment with the checkout's ansible.cfg and plain output."""
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **extra)


def run(*argv, timeout=300, cwd=ROOT, **extra_environment):
    """CompletedProcess of ``argv`` run in ``cwd`` (default: the checkout); never raises."""
    return subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=environment(**extra_environment),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
