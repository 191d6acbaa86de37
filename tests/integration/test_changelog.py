"""The changelog is antsibull-changelog's: fragments and changelogs/changelog.yaml lint clean,
CHANGELOG.rst is what they generate, and the latest release is the version galaxy.yml builds."""

import pathlib
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHANGELOG_YAML = ROOT / "changelogs" / "changelog.yaml"


def antsibull_changelog(*argv):
    completed = subprocess.run(
        ["antsibull-changelog", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, completed.stdout + completed.stderr


def test_fragments_lint_clean():
    assert antsibull_changelog("lint") == (0, "")


def test_changelog_yaml_lints_clean():
    assert antsibull_changelog("lint-changelog-yaml", str(CHANGELOG_YAML)) == (0, "")


def test_changelog_rst_is_what_the_changelog_yaml_generates(tmp_path):
    generated = tmp_path / "CHANGELOG.rst"
    returncode, output = antsibull_changelog("generate", "--output", str(generated))
    assert returncode == 0, output
    assert generated.read_text() == (ROOT / "CHANGELOG.rst").read_text()


def test_the_latest_release_is_the_version_galaxy_yml_builds():
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    releases = yaml.safe_load(CHANGELOG_YAML.read_text())["releases"]
    assert max(releases, key=lambda text: tuple(int(part) for part in text.split("."))) == version
