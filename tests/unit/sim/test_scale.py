"""One simulator process plays 300 MPCPUs, and each answers a time read."""

import concurrent.futures
import time

from tests.unit.sim.conftest import read_file

DEVICES = 300
ADDRESSES = "127.77.0.1-127.77.1.44"  # 256 + 44 = 300 loopback addresses


def test_300_devices_in_one_process_each_answer_a_time_read(start_simulator):
    simulator = start_simulator("--address", ADDRESSES, "--name-prefix", "scale", "-q")
    names = sorted(simulator.status()["devices"])
    assert len(names) == DEVICES
    clients = [simulator.tftp_client(name, timeout=1.0, total_timeout=30.0) for name in names]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda client: read_file(client, "mpcpu_time.txt"), clients))
    elapsed = time.monotonic() - started
    print("%d time reads in %.2f s" % (DEVICES, elapsed))
    assert all(len(answer) == 20 and answer[10:11] == b"T" for answer in answers)
    counters = simulator.wait_for(
        lambda status: all(
            device["counters"].get("tftp_completed") == 1 for device in status["devices"].values()
        )
    )
    assert len(counters["devices"]) == DEVICES
