"""The execution environment's build context holds the collection, built here, and netaddr.

ee/build.sh builds the tarball and runs `ansible-builder create`; the context must then hold
that tarball, galaxy requirements naming it, and netaddr among the Python requirements. The
tarball itself must declare its dependencies where ansible-builder reads them: installed into
a collections path, `ansible-builder introspect` finds netaddr and the SSH client.
"""

import os
import pathlib
import subprocess
import tarfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(argv, cwd):
    # Outside the checkout and without its ansible.cfg: as a user building the EE would.
    environment = {key: value for key, value in os.environ.items() if key != "ANSIBLE_CONFIG"}
    result = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The build context ee/build.sh makes (once for this module: it takes a few seconds)."""
    work = tmp_path_factory.mktemp("ee")
    run([ROOT / "ee" / "build.sh", "--context", work / "context"], work)
    return work / "context"


def test_context_holds_the_collection_tarball_named_by_its_galaxy_requirements(context):
    tarballs = sorted((context / "_build" / "collections").glob("megapower-mpcpu-*.tar.gz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as archive:
        manifest = yaml.safe_load(archive.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["namespace"] == "megapower"
    assert manifest["collection_info"]["name"] == "mpcpu"

    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [
        {"name": "/build/collections/" + tarballs[0].name, "type": "file"}
    ]
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install" in containerfile


def test_context_pins_an_ee_base_image_and_names_netaddr(context):
    containerfile = (context / "Containerfile").read_text()
    base = next(
        line for line in containerfile.splitlines() if line.startswith("ARG EE_BASE_IMAGE=")
    )
    image = base.split("=", 1)[1].strip('"')
    assert "-ee-" in image
    assert "@sha256:" in image or (":" in image and not image.endswith(":latest"))
    python_requirements = (context / "_build" / "requirements.txt").read_text()
    assert "netaddr" in python_requirements


def test_installed_collection_declares_its_dependencies_for_introspection(context, tmp_path):
    tarball = next((context / "_build" / "collections").glob("megapower-mpcpu-*.tar.gz"))
    collections = tmp_path / "collections"
    run(["ansible-galaxy", "collection", "install", "-p", collections, tarball], tmp_path)
    found = yaml.safe_load(run(["ansible-builder", "introspect", collections], tmp_path).stdout)
    assert any(line.startswith("netaddr") for line in found["python"])
    assert any(line.startswith("openssh-client") for line in found["system"])
