"""Check that a built collection tarball holds the collection and none of the lab or tests."""

import sys
import tarfile

REQUIRED = ("MANIFEST.json", "FILES.json", "plugins/module_utils/appendix_d.py", "roles/site_model")
FORBIDDEN_PREFIXES = (
    "lab/",
    "tests/",
    "molecule/",
    "inventories/",
    "benchmarks/",
    "collections/",
    "scripts/",
    ".ci/",
    "docs/",
    "roles/mpcpu_simulator/",
    "playbooks/lab_devices.yml",
)


def main(tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    missing = [name for name in REQUIRED if not any(n.startswith(name) for n in names)]
    leftovers = sorted(n for n in names if n.startswith(FORBIDDEN_PREFIXES) or "__pycache__" in n)
    if missing or leftovers:
        print("collection tarball: missing %s, leftovers %s" % (missing, leftovers[:10]))
        return 1
    print("collection tarball: %d entries, no lab or test leftovers" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
