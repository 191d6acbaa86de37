"""The lab images: a debootstrapped Debian root file system per release, built once and cached.

Debian 12 (bookworm) is the default; Debian 13 (trixie) is built beside it when a topology
host asks for it. Each carries every package the roles and tests use, so lab hosts never need
a network, with the service units disabled so that roles are the ones to start them.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time

from mpcpu_lab import paths

DEFAULT_RELEASE = "bookworm"
PACKAGES = (
    # a booting, reachable host
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "python3",
    "python3-apt",
    "iproute2",
    "iputils-ping",
    "netcat-openbsd",
    "procps",
    "less",
    # firewall targets
    "nftables",
    "iptables",
    "firewalld",
    # the services of Appendix D
    "kea-dhcp4-server",
    "chrony",
    "postfix",
    "tftpd-hpa",
    # clients the tests play the MPCPU side with
    "tftp-hpa",
    "busybox",
    "swaks",
    "dhcping",
    # a Linux router of the lab relaying DHCP to a central Kea (molecule/dhcp)
    "isc-dhcp-relay",
    # the lab's corporate mail host (STARTTLS, SASL login) and postfix's SASL client side
    "dovecot-core",
    "libsasl2-modules",
    "ca-certificates",
    "openssl",
    # the site's log pipeline and metrics (the journal into rsyslog, node_exporter, Prometheus)
    "rsyslog",
    "rsyslog-gnutls",
    "prometheus-node-exporter",
    "prometheus",
)
# Units the image must not start by itself: the roles own them.
DISABLED_UNITS = (
    "kea-dhcp4-server",
    "kea-ctrl-agent",
    "kea-dhcp-ddns",
    "chrony",
    "postfix",
    "nftables",
    "firewalld",
    "tftpd-hpa",
    "isc-dhcp-relay",
    "dovecot",
    "rsyslog",
    "prometheus-node-exporter",
    "prometheus",
    "e2scrub_reap",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "fstrim.timer",
    "e2scrub_all.timer",
    "dpkg-db-backup.timer",
)
# What a release's image adds to PACKAGES. Debian 13 hosts also play an ansible-core 2.21
# controller (Python 3.13), whose venv needs python3-venv.
RELEASE_PACKAGES = {
    "bookworm": (),
    "trixie": ("python3-venv",),
}
RELEASES = tuple(RELEASE_PACKAGES)
# Bump when the customisation below changes, so cached images are rebuilt.
RECIPE_VERSION = "3"


def _check(release):
    if release not in RELEASE_PACKAGES:
        raise ValueError("release %r: the lab builds %s" % (release, ", ".join(RELEASES)))
    return release


def packages(release=DEFAULT_RELEASE):
    return PACKAGES + RELEASE_PACKAGES[_check(release)]


def image_key(release=DEFAULT_RELEASE):
    recipe = "\n".join((release, RECIPE_VERSION) + packages(release) + DISABLED_UNITS)
    return "%s-%s" % (release, hashlib.sha256(recipe.encode()).hexdigest()[:12])


def image_dir(release=DEFAULT_RELEASE):
    return os.path.join(paths.cache_dir(), "images", image_key(release))


def rootfs(release=DEFAULT_RELEASE):
    return os.path.join(image_dir(release), "rootfs")


def _log(message):
    print("mpcpu_lab: %s" % message, file=sys.stderr, flush=True)


def _mirror():
    """The Debian mirror this machine's apt already uses, or debootstrap's default."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split()
            is_uri = path.endswith(".sources") and line.startswith("URIs:") and len(words) > 1
            if is_uri and "security" not in words[1]:
                return words[1]
            is_debian = len(words) > 2 and words[2].split("-")[0] in RELEASES
            if line.startswith("deb ") and is_debian and "security" not in words[1]:
                return words[1]
    return None


def _chroot(root, *argv):
    subprocess.run(("chroot", root) + argv, check=True, stdout=subprocess.DEVNULL)


def _customise(root):
    for unit in DISABLED_UNITS:
        # SysV-only services have no unit file to disable; update-rc.d below handles them.
        subprocess.run(
            ["systemctl", "--root=" + root, "disable", "--quiet", unit],
            check=False,
            stderr=subprocess.DEVNULL,
        )
    # SysV-only services are enabled by rc.d links, which systemctl --root does not remove.
    _chroot(root, "update-rc.d", "tftpd-hpa", "disable")
    _chroot(root, "update-rc.d", "isc-dhcp-relay", "disable")
    with open(os.path.join(root, "etc/machine-id"), "w", encoding="utf-8"):
        pass
    with open(os.path.join(root, "etc/resolv.conf"), "w", encoding="utf-8") as handle:
        handle.write("# lab hosts have no DNS: every address they need is in /etc/hosts\n")
    os.makedirs(os.path.join(root, "root/.ssh"), mode=0o700, exist_ok=True)
    subprocess.run(["chroot", root, "apt-get", "clean"], check=True)
    shutil.rmtree(os.path.join(root, "var/lib/apt/lists"), ignore_errors=True)
    os.makedirs(os.path.join(root, "var/lib/apt/lists/partial"), exist_ok=True)


def build(release=DEFAULT_RELEASE, force=False):
    """Build the release's image unless a cached one exists; return its root file system path."""
    target = image_dir(release)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(os.path.join(target, "rootfs")) and not force:
            return rootfs(release)
        started = time.monotonic()
        staging = target + ".new"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        argv = [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(packages(release)),
            release,
            os.path.join(staging, "rootfs"),
        ]
        mirror = _mirror()
        if mirror:
            argv.append(mirror)
        _log("building image %s (a few minutes, once)" % image_key(release))
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        _customise(os.path.join(staging, "rootfs"))
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
        _log("image ready in %.0f s" % (time.monotonic() - started))
    _prune_old_images(release)
    return rootfs(release)


def _prune_old_images(release):
    """Remove the release's images of older recipes; other releases' images stay."""
    images = os.path.dirname(image_dir(release))
    for name in os.listdir(images):
        path = os.path.join(images, name)
        if name.startswith(image_key(release)) or not name.startswith(release + "-"):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
