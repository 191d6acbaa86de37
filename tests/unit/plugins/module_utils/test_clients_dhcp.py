"""The DHCP client sends from the address it is told to, as a device that has one may."""

import os
import socket

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import dhcp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="SO_BINDTODEVICE needs root")


def free_udp_port(address):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("source", ["127.0.0.2", None])
def test_discover_leaves_from_the_source_address_it_is_given(source):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        with pytest.raises(dhcp.ClientError, match="no DHCPOFFER"):
            dhcp.lease(
                "lo",
                "02:1b:2c:00:00:10",
                client_port=free_udp_port("0.0.0.0"),
                server_port=server.getsockname()[1],
                destination="127.0.0.1",
                timeout=0.2,
                retries=0,
                source=source,
            )
        _discover, sender = server.recvfrom(4096)
    assert sender[0] == (source or "127.0.0.1")


def test_a_source_this_host_does_not_have_is_a_clear_error():
    with pytest.raises(dhcp.ClientError, match="cannot send DHCP to 127.0.0.1 port"):
        dhcp.lease(
            "lo",
            "02:1b:2c:00:00:10",
            client_port=free_udp_port("0.0.0.0"),
            server_port=9,
            destination="127.0.0.1",
            timeout=0.2,
            retries=0,
            source="198.51.100.99",
        )
