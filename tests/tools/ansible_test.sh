#!/usr/bin/env bash
# Runs ansible-test on this checkout, in the origin environment (the active Python, no
# --venv/--docker):  tests/tools/ansible_test.sh sanity --python 3.11
#                    tests/tools/ansible_test.sh units --python 3.11
# ansible-test wants the collection at .../ansible_collections/megapower/mpcpu and lists its
# files with git, so the checkout's files (tracked, and new ones git does not ignore) are laid
# into a temporary tree of that shape, made a git repository of its own and tested there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# ansible-test bootstraps pip in each sanity virtualenv with a get-pip script it downloads from
# ci-files.testing.ansible.com (unreachable here) unless a copy sits in its cache. This stand-in,
# written there on every run, gives it pip from ensurepip, then the pip version it asks for
# from the package index (get-pip's own --no-setuptools/--no-wheel are honoured, not passed on).
write_pip_bootstrap() {
  local version
  version=$(python3 - <<'EOF'
import pathlib, re
import ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
EOF
  )
  mkdir -p "$HOME/.ansible/test/cache"
  cat > "$HOME/.ansible/test/cache/get_pip_${version//./_}.py" <<'EOF'
"""Offline stand-in for ansible-test's get-pip script (written by tests/tools/ansible_test.sh)."""

import subprocess
import sys

GET_PIP_OPTIONS = ("--no-setuptools", "--no-wheel")
pip_arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_OPTIONS]
subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True)
subprocess.run([sys.executable, "-m", "pip", "install", "--upgrade", *pip_arguments], check=True)
if "--no-setuptools" in sys.argv:
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=True)
EOF
}

lay_out_collection() {
  local tree=$1
  mkdir -p "$tree"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    tar -C "$root" --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null |
    tar -C "$tree" -xf -
  git -C "$tree" init -q
  git -C "$tree" add -A
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/ansible_collections/megapower/mpcpu
write_pip_bootstrap
lay_out_collection "$tree"
cd "$tree"
# The checkout's ansible.cfg (collections/ link, lab inventory) is not for ansible-test.
env -u ANSIBLE_CONFIG ansible-test "$@" --color no
