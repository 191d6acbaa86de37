"""Aerleon behind one adapter: a version outside the supported range is refused naming it, a
hook that moved is refused naming it, and the installed Aerleon still has every hook."""

import importlib.metadata
import pathlib
import types

import pytest

from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import aerleon_adapter

ROOT = pathlib.Path(__file__).resolve().parents[4]
DECLARED_IN = (
    "requirements.txt",
    "meta/ee-requirements.txt",
    "tests/unit/requirements.txt",
)


def installed_as(monkeypatch, version):
    def fake_version(name):
        assert name == "aerleon"
        return version

    monkeypatch.setattr(importlib.metadata, "version", fake_version)


def test_the_installed_aerleon_is_supported_and_has_every_hook():
    """Fails loudly, naming the version, when an Aerleon release moves a hook."""
    version = aerleon_adapter.installed_version()
    assert aerleon_adapter.version_problem(version) is None, (
        "aerleon %s is outside %s: test it, then move the bound in every requirements file"
        % (version, aerleon_adapter.REQUIREMENT)
    )
    assert aerleon_adapter.missing_hooks() == [], "aerleon %s moved: %s" % (
        version,
        ", ".join(aerleon_adapter.missing_hooks()),
    )
    aerleon_adapter.check()


@pytest.mark.parametrize("version", ["1.19.0", "2.0.0", "1.17.2", "1.19.0rc1", "unknown"])
def test_a_version_outside_the_range_is_refused_naming_it(monkeypatch, version):
    installed_as(monkeypatch, version)
    with pytest.raises(aerleon_adapter.AerleonError) as raised:
        aerleon_adapter.check()
    message = str(raised.value)
    assert message.startswith("aerleon %s is installed" % version)
    assert "supports aerleon>=1.18,<1.19" in message


@pytest.mark.parametrize("version", ["1.18.0", "1.18.7"])
def test_a_version_inside_the_range_is_accepted(monkeypatch, version):
    installed_as(monkeypatch, version)
    aerleon_adapter.check()


def test_an_aerleon_pip_does_not_know_is_refused(monkeypatch):
    def not_found(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_found)
    with pytest.raises(aerleon_adapter.AerleonError, match=r"aerleon \(version unknown\)"):
        aerleon_adapter.check()


def test_a_private_method_that_is_gone_is_refused_naming_it_and_the_version(monkeypatch):
    from aerleon.lib import aclcheck  # noqa: PLC0415 - the module whose hook moves

    installed_as(monkeypatch, "1.18.3")
    monkeypatch.delattr(aclcheck.AclCheck, "_AddrMatch")
    with pytest.raises(aerleon_adapter.AerleonError) as raised:
        aerleon_adapter.check()
    assert str(raised.value) == (
        "aerleon 1.18.3: AclCheck._AddrMatch is gone or changed; "
        "megapower.mpcpu supports aerleon>=1.18,<1.19"
    )


def test_a_private_method_with_other_parameters_is_refused(monkeypatch):
    from aerleon.lib import aclcheck  # noqa: PLC0415 - the module whose hook changes

    monkeypatch.setattr(aclcheck.AclCheck, "_AddrMatch", lambda self, address, networks: False)
    assert aerleon_adapter.missing_hooks() == ["AclCheck._AddrMatch('self', 'addr', 'addresses')"]


def test_a_generator_table_that_moved_is_refused_naming_it(monkeypatch):
    supervisor = types.SimpleNamespace(PluginSupervisor=types.SimpleNamespace(Start=lambda: None))
    monkeypatch.setattr(aerleon_adapter, "_plugin_supervisor", supervisor)
    assert aerleon_adapter.missing_hooks() == ["PluginSupervisor.generators"]


def test_a_missing_aerleon_names_the_pip_command_with_the_range(monkeypatch):
    monkeypatch.setattr(aerleon_adapter, "INSTALLED", False)
    with pytest.raises(aerleon_adapter.AerleonError, match=r"pip install 'aerleon>=1\.18,<1\.19'"):
        aerleon_adapter.require()


@pytest.mark.parametrize("path", DECLARED_IN)
def test_every_requirements_file_declares_the_supported_range(path):
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    declared = [line.strip() for line in lines if line.strip().startswith("aerleon")]
    assert declared == [aerleon_adapter.REQUIREMENT], path
