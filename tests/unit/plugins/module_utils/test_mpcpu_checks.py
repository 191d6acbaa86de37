"""Argument checks shared by the mpcpu_* modules: each message starts with the bad field."""

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import checks
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("198.51.100.10", "198.51.100.10"),
        (" 127.77.0.1 ", "127.77.0.1"),
        ("2001:DB8::1", "2001:db8::1"),
    ],
)
def test_addresses_are_cleaned(text, address):
    assert checks.address(text) == address


@pytest.mark.parametrize("text", ["198.51.100.300", "mpcpu-01", "", "198.51.100.0/24", None])
def test_non_addresses_are_refused_with_the_field_name(text):
    with pytest.raises(MpcpuError) as error:
        checks.address(text, "ntp_server")
    assert str(error.value) == "ntp_server: %r is not an IPv4 or IPv6 address" % (text,)


@pytest.mark.parametrize(
    ("row_id", "side"),
    [
        ("time_firmware", "mpcpu_port"),
        ("easy_cpu", "mpcpu_port"),
        ("activity_logging", "mpcpu_port"),
        ("ntp", "pc_port"),
    ],
)
def test_unset_port_is_the_tables(row_id, side):
    assert checks.port(None, "port", row_id, side) == getattr(appendix_d.row(row_id), side)


@pytest.mark.parametrize("value", [0, 65536, -1, True])
def test_out_of_range_ports_are_refused(value):
    with pytest.raises(
        MpcpuError, match=r"^easy_cpu_port: .* is not a port number from 1 to 65535$"
    ):
        checks.port(value, "easy_cpu_port", "easy_cpu")


def test_a_quoted_port_is_refused_as_a_string():
    with pytest.raises(
        MpcpuError, match=r"^easy_cpu_port: '69' is a string: write the number without quotes$"
    ):
        checks.port("69", "easy_cpu_port", "easy_cpu")


def test_positive_distinguishes_zero():
    assert checks.positive(0, "retries", 0, True) == 0
    with pytest.raises(MpcpuError, match=r"^timeout: 0 must be greater than 0$"):
        checks.positive(0, "timeout")
    with pytest.raises(MpcpuError, match=r"^timeout: 'x' is not a number$"):
        checks.positive("x", "timeout")


@pytest.mark.parametrize("name", ["", "a b", "caf\u00e9.bin", "a\x00b", None])
def test_remote_names_must_be_plain_ascii(name):
    with pytest.raises(MpcpuError, match=r"^remote_file: "):
        checks.remote_name(name, "remote_file")


def test_choice_lists_what_is_allowed():
    with pytest.raises(MpcpuError, match=r"^state: 'on' is not one of set, read$"):
        checks.choice("on", "state", ("set", "read"))


def test_error_keeps_a_copy_of_the_partial_result():
    partial = {"changed": True}
    error = MpcpuError("host: gone", partial)
    partial["changed"] = False
    assert error.result == {"changed": True}


def test_a_clients_refusal_of_an_option_becomes_a_module_error():
    def factory(host, **options):
        raise ValueError("retries must be a whole number in 0..1000, got 5000")

    with pytest.raises(MpcpuError, match=r"^retries must be a whole number in 0..1000, got 5000$"):
        checks.new_client(factory, "127.0.0.1", retries=5000)
