"""Where the lab keeps its cache (image, SSH key) and its run-time state."""

import os
import subprocess

# Every name the lab gives on the machine starts with this, so a sweep finds leftovers.
PREFIX = "mpl"


def cache_dir():
    default = os.path.join(os.path.expanduser("~"), ".cache", "megapower-mpcpu")
    return os.environ.get("MPCPU_LAB_CACHE", default)


def run_dir():
    return os.environ.get("MPCPU_LAB_RUN", "/var/tmp/mpcpu-lab")


def lab_dir(lab):
    return os.path.join(run_dir(), lab)


def checkout_dir():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ssh_key():
    """The lab's SSH key pair, made on first use; returns the private key path."""
    key = os.path.join(cache_dir(), "ssh", "id_ed25519")
    if not os.path.exists(key):
        os.makedirs(os.path.dirname(key), mode=0o700, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mpcpu-lab", "-f", key],
            check=True,
        )
    return key
