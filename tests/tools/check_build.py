"""Check a built collection tarball against an allow-list: what a user needs and nothing else.

galaxy.yml's ``manifest:`` decides what goes in; this checks the result independently, so a
directive that lets the lab, tests, developer configuration or a report file slip in fails here.
"""

import fnmatch
import sys
import tarfile

REQUIRED = (
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "meta/ee-requirements.txt",
    "bindep.txt",
    "plugins/module_utils/appendix_d.py",
    "roles/site_model/tasks/main.yml",
    "playbooks/site.yml",
)
ALLOWED = (
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "COPYING",
    "CHANGELOG.md",
    "CHANGELOG.rst",
    "bindep.txt",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "meta/ee-requirements.txt",
    "changelogs/changelog.yaml",
    "changelogs/config.yaml",
    "docs/docsite/*",
    "plugins/*.py",
    "plugins/*.yml",
    "plugins/*.yaml",
    "roles/*",
    "playbooks/*.yml",
)
FORBIDDEN = (
    "*/__pycache__/*",
    "*.pyc",
    "*/.*",
    ".*",
)


def matches(name, patterns):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def problems(names):
    """Files outside the allow-list or inside the deny-list, and required files missing."""
    files = set(names)
    missing = [name for name in REQUIRED if name not in files]
    unexpected = sorted(n for n in files if not matches(n, ALLOWED) or matches(n, FORBIDDEN))
    return missing, unexpected


def main(tarball):
    with tarfile.open(tarball) as archive:
        names = [member.name for member in archive.getmembers() if not member.isdir()]
    missing, unexpected = problems(names)
    if missing or unexpected:
        print("collection tarball: missing %s; not allowed %s" % (missing, unexpected))
        return 1
    print("collection tarball: %d files, all on the allow-list" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
