# shellcheck shell=bash
# Sourced by scripts/test and scripts/lab: installs what this checkout needs on a Debian 12 or
# Debian 13 machine (apt packages, a cached virtualenv) and activates the virtualenv. Re-runs are cheap:
# apt is skipped when every package is present, pip when requirements did not change.

MPCPU_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MPCPU_CACHE=${MPCPU_LAB_CACHE:-$HOME/.cache/megapower-mpcpu}
export MPCPU_ROOT MPCPU_CACHE MPCPU_LAB_CACHE=$MPCPU_CACHE

# Machine-side tools: the lab (debootstrap, nspawn, iproute2), firewall checks (nftables,
# iptables), the independent TFTP implementations the interop tests and benchmarks use, and
# the shell linter ansible-test sanity runs (its shellcheck test skips itself without it).
# tftpd-hpa is not here: Debian makes it conflict with atftpd, so it lives in the lab image.
# The names are the same on Debian 12 and 13 (checked with apt-get install --simulate in a
# trixie chroot); what differs is the Python python3-venv brings: 3.11 on Debian 12, where the
# venv resolves ansible-core 2.19.x, and 3.13 on Debian 13, where it resolves 2.21.x.
MPCPU_APT_PACKAGES=(
  debootstrap systemd-container iproute2 nftables iptables python3-venv git openssh-client
  atftpd atftp tftp-hpa curl shellcheck
)

mpcpu_log() { printf '==> %s\n' "$*" >&2; }

mpcpu_require_root() {
  if [ "$(id -u)" != 0 ]; then
    mpcpu_log "run as root: the lab creates network namespaces and boots containers"
    exit 1
  fi
}

# mpcpu_install_apt PACKAGE...: installs those of the packages that are missing.
mpcpu_install_apt() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  mpcpu_log "apt: installing ${missing[*]}"
  apt-get update -qq
  # A policy-rc.d keeps Debian from starting the TFTP daemons on the machine itself: tests
  # start their own on loopback.
  local own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
}

mpcpu_install_venv() {
  local venv=$MPCPU_CACHE/venv
  local stamp_file=$venv/.mpcpu-requirements
  local wanted
  wanted=$(sha256sum < "$MPCPU_ROOT/requirements.txt" | cut -c1-16)
  if [ ! -x "$venv/bin/python" ]; then
    mpcpu_log "venv: creating $venv"
    python3 -m venv "$venv"
  fi
  if [ "$(cat "$stamp_file" 2>/dev/null)" != "$wanted" ]; then
    mpcpu_log "venv: installing requirements"
    # pip's warnings about index locations the machine's pip.conf names are noise here.
    "$venv/bin/pip" install -q --upgrade pip 2> >(grep -v '^WARNING: Location' >&2)
    "$venv/bin/pip" install -q -r "$MPCPU_ROOT/requirements.txt" 2> >(grep -v '^WARNING: Location' >&2)
    echo "$wanted" > "$stamp_file"
  fi
  # shellcheck disable=SC1091
  . "$venv/bin/activate"
  # The lab tool and simulator run from the checkout, so a fresh clone needs no install step.
  export PYTHONPATH=$MPCPU_ROOT/lab${PYTHONPATH:+:$PYTHONPATH}
  export ANSIBLE_CONFIG=$MPCPU_ROOT/ansible.cfg
}

# mpcpu_install_tool_venv VENV REQUIREMENTS_FILE: a venv of its own for a tool whose pins
# clash with the main venv's, installed again only when the requirements file changes.
mpcpu_install_tool_venv() {
  local venv=$1 requirements=$2 wanted
  wanted=$(sha256sum < "$requirements" | cut -c1-16)
  [ "$(cat "$venv/.mpcpu-requirements" 2>/dev/null)" = "$wanted" ] && return 0
  mpcpu_log "venv: installing $(basename "$requirements") into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$requirements" 2> >(grep -v '^WARNING: Location' >&2)
  echo "$wanted" > "$venv/.mpcpu-requirements"
}

# galaxy-importer (what Galaxy and Automation Hub run on every upload) pins attrs and
# ansible-lint below what the main venv has.
mpcpu_install_importer_venv() {
  mpcpu_install_tool_venv "$MPCPU_CACHE/importer-venv" \
    "$MPCPU_ROOT/tests/tools/galaxy-importer-requirements.txt"
}

# tftpd-hpa cannot be installed beside atftpd; the interop tests run its binary unpacked from
# the .deb, which is fetched here so that no test downloads anything. Likewise promtool, from
# Debian's prometheus package: installing it would start a Prometheus server on the machine.
mpcpu_fetch_tools() {
  local tools=$MPCPU_CACHE/tools package
  mkdir -p "$tools"
  for package in tftpd-hpa prometheus; do
    ls "$tools/${package}"_*.deb >/dev/null 2>&1 && continue
    mpcpu_log "apt: fetching the $package package for the tests (unpacked, never installed)"
    (cd "$tools" && { apt-get download -qq "$package" 2>/dev/null \
      || { apt-get update -qq && apt-get download -qq "$package"; }; })
  done
}

# The checkout is the collection: collections/ansible_collections/megapower/mpcpu links back
# to it, so megapower.mpcpu.* resolves with no install step. The link is made here, in a
# git-ignored directory, because a committed self-link breaks ansible-test and collection builds.
mpcpu_link_collection() {
  local link=$MPCPU_ROOT/collections/ansible_collections/megapower/mpcpu
  [ -L "$link" ] && return 0
  mkdir -p "$(dirname "$link")"
  ln -sfn ../../.. "$link"
}

mpcpu_bootstrap() {
  local started=$SECONDS
  mpcpu_require_root
  mpcpu_install_apt "${MPCPU_APT_PACKAGES[@]}"
  mpcpu_fetch_tools
  mpcpu_install_venv
  mpcpu_link_collection
  mpcpu_log "set-up: apt and venv ready in $((SECONDS - started)) s"
}
