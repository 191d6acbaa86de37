"""Fault injection on the device's TFTP server: transfers survive loss, or fail as told."""

import hashlib
import io
import os

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp
from tests.unit.sim.conftest import read_file

FAST_RETRANSMIT = ("--set", "tftp_timeout=0.3")


def settled(simulator, name, injected, completed=1):
    """The device's status once ``injected`` faults fired and ``completed`` transfers ended."""

    def reached(status):
        device = status["devices"][name]
        done = device["counters"].get("tftp_completed", 0)
        return device["faults_injected"] >= injected and done >= completed

    return simulator.wait_for(reached)["devices"][name]


def firmware_sha256(simulator, name):
    text = read_file(simulator.tftp_client(name), "firmware.version").decode("ascii")
    return dict(line.split("=", 1) for line in text.splitlines())["sha256"]


def test_dropped_data_is_sent_again_and_the_read_completes(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.1", *FAST_RETRANSMIT,
        "--fault", "drop:packet=data:nth=1:file=firmware.version",
    )  # fmt: skip
    text = read_file(simulator.tftp_client("cpu001", timeout=1.0), "firmware.version")
    assert text.startswith(b"version=4.0\n")
    assert settled(simulator, "cpu001", injected=1)["faults_injected"] == 1


def test_dropped_ack_is_repeated_and_the_upload_completes(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.2", *FAST_RETRANSMIT, "--fault", "drop:packet=ack:nth=3"
    )
    image = os.urandom(20000)
    client = simulator.tftp_client("cpu001", timeout=0.3)
    client.write("firmware.bin", io.BytesIO(image))
    assert firmware_sha256(simulator, "cpu001") == hashlib.sha256(image).hexdigest()
    assert settled(simulator, "cpu001", injected=1, completed=2)["faults_injected"] == 1


def test_random_loss_of_incoming_data_in_windows_is_recovered(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.3", *FAST_RETRANSMIT,
        "--fault", "drop:packet=data:direction=in:probability=0.05:seed=11",
    )  # fmt: skip
    image = os.urandom(400 * 512)
    client = simulator.tftp_client("cpu001", blksize=512, windowsize=8, timeout=0.3, retries=8)
    client.write("firmware.bin", io.BytesIO(image))
    assert firmware_sha256(simulator, "cpu001") == hashlib.sha256(image).hexdigest()
    assert settled(simulator, "cpu001", injected=1, completed=2)["faults_injected"] >= 1


def test_duplicated_acks_do_not_disturb_the_upload(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.4", "--fault", "duplicate:packet=ack:copies=2"
    )
    image = os.urandom(30000)
    simulator.tftp_client("cpu001").write("firmware.bin", io.BytesIO(image))
    assert firmware_sha256(simulator, "cpu001") == hashlib.sha256(image).hexdigest()


def test_delayed_oack_delays_the_transfer(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.5", "--fault", "delay:packet=oack:seconds=0.4"
    )
    result = simulator.tftp_client("cpu001", timeout=2.0).read("mpcpu_time.txt", io.BytesIO())
    assert result.duration >= 0.4


def test_injected_error_answers_the_request(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.6",
        "--fault", "error:packet=wrq:file=firmware.bin:code=2:message=busy updating",
    )  # fmt: skip
    client = simulator.tftp_client("cpu001")
    with pytest.raises(tftp.TftpRemoteError) as refused:
        client.write("firmware.bin", io.BytesIO(b"MPCPU-FW 5\n"))
    assert (refused.value.code, refused.value.message) == (tftp.ERR_ACCESS, "busy updating")
    assert len(read_file(client, "mpcpu_time.txt")) == 20  # other files are still served


def test_die_mid_transfer_leaves_the_client_timing_out_and_the_slot_unchanged(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.7", "--fault", "die:packet=wrq:after_block=3"
    )
    client = simulator.tftp_client("cpu001", timeout=0.3, retries=2)
    with pytest.raises(tftp.TftpTimeout):
        client.write("firmware.bin", io.BytesIO(b"MPCPU-FW 6.0\n" + bytes(10000)))
    device = simulator.wait_for(
        lambda status: status["devices"]["cpu001"]["counters"].get("tftp_died") == 1
    )["devices"]["cpu001"]
    assert device["firmware"]["version"] == "4.0"


def test_fault_for_one_device_leaves_the_others_alone(start_simulator):
    simulator = start_simulator(
        "--address", "cpu001=127.0.4.8", "--address", "cpu002=127.0.4.9",
        "--fault", "error:device=cpu002:code=0:message=cpu002 only",
    )  # fmt: skip
    assert len(read_file(simulator.tftp_client("cpu001"), "mpcpu_time.txt")) == 20
    with pytest.raises(tftp.TftpRemoteError, match="cpu002 only"):
        read_file(simulator.tftp_client("cpu002"), "mpcpu_time.txt")
