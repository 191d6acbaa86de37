#!/usr/bin/env bash
# galaxy-importer on a built tarball, as Galaxy and Automation Hub run it on an upload, with
# its ansible-test step off (that wants a container; scripts/test runs ansible-test itself).
# Prints its errors and warnings; fails on an error even where galaxy-importer exits 0 (it
# does after an ansible-doc failure).
#   tests/tools/galaxy_importer.sh megapower-mpcpu-X.Y.Z.tar.gz
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${MPCPU_CACHE:-$HOME/.cache/megapower-mpcpu}/importer-venv
tarball=$(realpath "$1")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

status=0
(cd "$(dirname "$tarball")" && env -u ANSIBLE_CONFIG -u PYTHONPATH PATH="$venv/bin:$PATH" \
  GALAXY_IMPORTER_CONFIG="$root/tests/tools/galaxy-importer.cfg" \
  python -m galaxy_importer.main "$tarball") > "$log" 2>&1 || status=$?
grep -E '^(ERROR|WARNING)' "$log" | cut -c1-400 || true
tail -n 1 "$log"
if [ "$status" != 0 ] || grep -q '^ERROR' "$log"; then
  echo "galaxy-importer: the tarball would be rejected or imported with errors" >&2
  exit 1
fi
