#!/usr/bin/env bash
# Makes a stand-in for the EE base image where no container registry is reachable: Debian 12
# by debootstrap, a Python venv in /opt/ee with ansible-core and ansible-runner (what an EE base
# carries; Debian's own python3 has ensurepip switched off, which ansible-builder needs), and a
# `dnf` that calls apt (ansible-builder's scripts expect a Fedora base); then `podman import`.
# Only for trying the EE build here: execution-environment.yml names the real base.
#   ee/local-base.sh [TAG]      (default localhost/mpcpu-ee-base:bookworm)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${1:-localhost/mpcpu-ee-base:bookworm}
rootfs=$(mktemp -d /var/tmp/mpcpu-ee-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

mirror=$(PYTHONPATH=$root/lab python3 -c 'from mpcpu_lab import image; print(image._mirror() or "")')
# shellcheck disable=SC2086  # no mirror: debootstrap's default
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" $mirror > /dev/null
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# The machine's trust store, so that pip in the image (and in the EE build on top of it)
# reaches the package index the way the machine does.
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$rootfs/etc/pip.conf"
chroot "$rootfs" python3 -m venv /opt/ee
chroot "$rootfs" /opt/ee/bin/pip install -q --no-cache-dir "ansible-core>=2.19,<2.20" ansible-runner
cat > "$rootfs/usr/local/bin/dnf" <<'SHIM'
#!/bin/sh
# dnf as ansible-builder's scripts call it (install -y PKGS, clean all), done by apt.
case "$1" in
  install) shift; while [ "${1#-}" != "$1" ]; do shift; done
           apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" ;;
  clean) apt-get clean; rm -rf /var/lib/apt/lists/* ;;
  *) echo "dnf stand-in: $* not supported" >&2; exit 1 ;;
esac
SHIM
chmod 755 "$rootfs/usr/local/bin/dnf"
chroot "$rootfs" apt-get clean
tar -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/opt/ee/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - "$tag" > /dev/null
echo "$tag"
