#!/usr/bin/env bash
# Builds the execution environment image here and runs megapower.mpcpu.validate in it with
# ansible-runner, against inventories/example. Needs podman, buildah and runc (apt), root.
# No registry is reachable, so the base is a local Debian stand-in (ee/local-base.sh, made
# once). Never uses podman's own networks (netavark turns net.ipv4.ip_forward on): the build
# runs with the host network and chroot isolation, the run with the host network.
#   ee/try-image.sh [IMAGE_TAG]       (default localhost/mpcpu-ee:local)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${1:-localhost/mpcpu-ee:local}
base=localhost/mpcpu-ee-base:bookworm
forward_before=$(sysctl -n net.ipv4.ip_forward)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

podman image exists "$base" || "$root/ee/local-base.sh" "$base"
"$root/ee/build.sh" --context "$work/context" --image "$image" -- \
  --container-runtime podman --build-arg EE_BASE_IMAGE="$base" \
  --build-arg PKGMGR=/usr/local/bin/dnf --build-arg PYCMD=/opt/ee/bin/python3 \
  --extra-build-cli-args "--network=host --isolation=chroot --pull=never" < /dev/null

# ansible-runner's private data dir: the inventory; the playbook comes from the collection.
mkdir -p "$work/runner/project"
cp -r "$root/inventories/example" "$work/runner/inventory"
chmod -R a+rwX "$work/runner"
# runc, not crun (crun refuses this machine's hybrid cgroups), and explicit ulimits.
podman --runtime runc run --rm --network=host \
  --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
  -v "$work/runner:/runner" "$image" \
  ansible-runner run /runner -p megapower.mpcpu.validate < /dev/null

forward_after=$(sysctl -n net.ipv4.ip_forward)
if [ "$forward_after" != "$forward_before" ]; then
  echo "net.ipv4.ip_forward changed from $forward_before to $forward_after" >&2
  exit 1
fi
echo "EE image $image: validate passed in it; net.ipv4.ip_forward still $forward_after"
