#!/usr/bin/env bash
# The opt-in stage of the test command (./scripts/test --ee): the playbooks run the way an
# operations team runs them, through ansible-navigator in the collection's execution
# environment, against the built-in lab.
#
# 1. Builds the image from this checkout's own collection build (ee/try-image.sh: podman,
#    buildah and runc from Debian; a local Debian stand-in for the base, since no registry is
#    reachable; megapower.mpcpu.validate through ansible-runner in it).
# 2. Boots the built-in lab and deploys it (scripts/lab: site.yml twice, verify).
# 3. From a directory outside the checkout (no ansible.cfg, so the collection comes from the
#    image and nowhere else), with this repository's ansible-navigator.yml and the lab's
#    inventory: `ansible-navigator run megapower.mpcpu.validate`, then `... verify`, whose
#    report must say every cell passed.
# The lab is torn down after; net.ipv4.ip_forward must still be what it was.
#   ee/navigator-lab.sh [IMAGE_TAG]     (default localhost/mpcpu-ee:local, as ansible-navigator.yml)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/bootstrap.sh"

IMAGE=${1:-localhost/mpcpu-ee:local}
EE_APT_PACKAGES=(podman buildah runc)
NAVIGATOR_VENV=$MPCPU_CACHE/navigator-venv

# The lab's inventory and this repository's navigator settings, in a project directory of
# their own.
lay_out_project() {
  local project=$1
  mkdir -p "$project"
  cp -r "$MPCPU_ROOT/inventories/lab" "$project/inventory"
  cp "$MPCPU_ROOT/ansible-navigator.yml" "$project/ansible-navigator.yml"
}

# ansible-navigator run PLAYBOOK ARGS..., in the image, with the lab's SSH key (read-only) and
# the report directory mounted where the host has them.
navigate() {
  local playbook=$1
  shift
  "$NAVIGATOR_VENV/bin/ansible-navigator" run "$playbook" \
    --execution-environment-image "$IMAGE" --pull-policy never --mode stdout \
    --pass-environment-variable MPCPU_LAB_CACHE \
    --execution-environment-volume-mounts "$MPCPU_CACHE/ssh:$MPCPU_CACHE/ssh:ro" \
    --execution-environment-volume-mounts "$REPORTS:$REPORTS" \
    "$@" < /dev/null
}

# ansible-navigator refuses podman without /dev/mqueue (POSIX message queues), which a
# sandboxed machine may lack: made for the run if missing, and removed after.
made_mqueue=""
clean_up() {
  "$MPCPU_ROOT/scripts/lab" down >/dev/null 2>&1 || true
  rm -rf "$work"
  [ -z "$made_mqueue" ] || rmdir /dev/mqueue
}

mpcpu_bootstrap
mpcpu_install_apt "${EE_APT_PACKAGES[@]}"
# ansible-navigator pins ansible-runner and friends apart from the main venv's tools.
mpcpu_install_tool_venv "$NAVIGATOR_VENV" "$MPCPU_ROOT/ee/navigator-requirements.txt"
forward_before=$(sysctl -n net.ipv4.ip_forward)
work=$(mktemp -d /var/tmp/mpcpu-navigator.XXXXXX)
REPORTS=$work/reports
trap clean_up EXIT
if [ ! -d /dev/mqueue ]; then
  mkdir /dev/mqueue
  made_mqueue=1
fi

started=$SECONDS
"$MPCPU_ROOT/ee/try-image.sh" "$IMAGE"
mpcpu_log "image $IMAGE built and validate run in it: $((SECONDS - started)) s"

started=$SECONDS
MPCPU_OUTPUT_DIR=$work/lab-output "$MPCPU_ROOT/scripts/lab" > "$work/lab.log" 2>&1 \
  || { tail -40 "$work/lab.log"; exit 1; }
mpcpu_log "built-in lab up and deployed: $((SECONDS - started)) s"

lay_out_project "$work/project"
mkdir -p "$REPORTS"
cd "$work/project"
started=$SECONDS
navigate megapower.mpcpu.validate -i inventory
navigate megapower.mpcpu.verify -i inventory -e "mpcpu_output_dir=$REPORTS"
mpcpu_log "validate and verify through ansible-navigator: $((SECONDS - started)) s"

report=$REPORTS/mpcpu-verify-lab/report.md
grep -qx '21 passed, 0 failed, 0 not probed' "$report" || { cat "$report"; exit 1; }
forward_after=$(sysctl -n net.ipv4.ip_forward)
if [ "$forward_after" != "$forward_before" ]; then
  mpcpu_log "net.ipv4.ip_forward changed from $forward_before to $forward_after"
  exit 1
fi
mpcpu_log "verify through ansible-navigator in $IMAGE: every cell passed ($report);" \
  "net.ipv4.ip_forward still $forward_after"
