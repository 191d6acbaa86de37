#!/usr/bin/env bash
# Builds the execution environment's context (and, with --image TAG, the image) from this
# checkout: the collection goes in as the tarball `ansible-galaxy collection build` writes,
# never as a hand copy.
#   ee/build.sh [--context DIR] [--image TAG] [-- extra ansible-builder build options]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
context=$root/ee/context
image=""
while [ $# -gt 0 ]; do
  case $1 in
    --context) context=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: ee/build.sh [--context DIR] [--image TAG] [-- ansible-builder options]" >&2; exit 2 ;;
  esac
done

staging=$root/ee/_build
rm -rf "$staging"
mkdir -p "$staging/collections"
ansible-galaxy collection build --output-path "$staging/collections" "$root" >/dev/null
tarball=$(cd "$staging/collections" && ls megapower-mpcpu-*.tar.gz)
cat > "$staging/requirements.yml" <<YAML
---
# Written by ee/build.sh: the tarball it built from this checkout.
collections:
  - name: /build/collections/$tarball
    type: file
YAML

cd "$root"
if [ -z "$image" ]; then
  ansible-builder create --file execution-environment.yml --context "$context" --output-filename Containerfile
else
  ansible-builder build --file execution-environment.yml --context "$context" --tag "$image" "$@"
fi
