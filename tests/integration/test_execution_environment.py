"""execution-environment.yml is accepted by ansible-builder and installs this collection."""

import pathlib
import shutil
import subprocess

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(argv, cwd):
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=ansible_cli.environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_ansible_builder_creates_a_build_context_with_the_collection(tmp_path):
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    shutil.copytree(ROOT / "ee", tmp_path / "ee")
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(ROOT)], ROOT)
    tarball = next(tmp_path.glob("megapower-mpcpu-*.tar.gz"))
    tarball.rename(tmp_path / "ee" / "megapower-mpcpu.tar.gz")
    run(
        ["ansible-builder", "create", "--context", "context", "-f", "execution-environment.yml"],
        tmp_path,
    )
    build_file = (tmp_path / "context" / "Dockerfile").read_text()
    assert "COPY _build/collections/ /build/collections/" in build_file
    assert "ansible-galaxy" in build_file
    assert (tmp_path / "context" / "_build" / "collections" / "megapower-mpcpu.tar.gz").is_file()
    assert "netaddr" in (tmp_path / "context" / "_build" / "requirements.txt").read_text()
