"""Run the MPCPU simulator as its own process on loopback addresses, read its status file.

Every served port is 0 (the kernel's choice, per address) unless a test asks otherwise, so
tests never collide with each other or with daemons on the machine; the status file says
which port each device got.
"""

import io
import json
import os
import signal
import subprocess
import time

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp
from mpcpu_sim.table import SERVED_ROWS

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
WRAPPER = os.path.join(CHECKOUT, "lab", "bin", "mpcpu-sim")
ANY_PORTS = [argument for row in SERVED_ROWS for argument in ("--port", "%s=0" % row)]
START_TIMEOUT = 30.0  # the machine may be busy: this bounds a hang, it does not time anything


class RunningSimulator:
    def __init__(self, process, status_path, stderr_path):
        self.process = process
        self.status_path = status_path
        self.stderr_path = stderr_path

    def status(self):
        with open(self.status_path, encoding="utf-8") as handle:
            return json.load(handle)

    def device(self, name):
        return self.status()["devices"][name]

    def address(self, name):
        return self.device(name)["address"]

    def port(self, name, row):
        return self.device(name)["ports"][row]

    def wait_for(self, predicate, timeout=10.0):
        """The first status for which ``predicate(status)`` holds; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if predicate(status):
                return status
            if time.monotonic() > deadline:
                pytest.fail("simulator status never matched; last: %s" % json.dumps(status)[:2000])
            time.sleep(0.05)

    def tftp_client(self, name, **options):
        options.setdefault("timeout", 0.5)
        options.setdefault("retries", 4)
        port = self.port(name, "time_firmware")
        return tftp.TftpClient(self.address(name), port=port, **options)

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self, timeout=15.0):
        """SIGTERM, and the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_process(argv, status_path, stderr_path):
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    simulator = RunningSimulator(process, status_path, stderr_path)
    deadline = time.monotonic() + START_TIMEOUT
    while not (os.path.exists(status_path) and simulator.status()["running"]):
        if process.poll() is not None:
            pytest.fail("simulator exited %s: %s" % (process.returncode, simulator.stderr()))
        if time.monotonic() > deadline:
            simulator.kill()
            pytest.fail("simulator did not start: %s" % simulator.stderr())
        time.sleep(0.05)
    return simulator


@pytest.fixture
def start_simulator(tmp_path):
    """start_simulator("--address", "127.0.3.1", ...) -> RunningSimulator, stopped after."""
    started = []

    def start(*arguments, ports=ANY_PORTS):
        index = len(started)
        status_path = str(tmp_path / ("status-%d.json" % index))
        stderr_path = str(tmp_path / ("stderr-%d.log" % index))
        argv = [WRAPPER, "serve", "--control", status_path, *ports, *arguments]
        simulator = start_process(argv, status_path, stderr_path)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.kill()


def read_file(client, name):
    """The bytes of a TFTP read of ``name``."""
    buffer = io.BytesIO()
    client.read(name, buffer)
    return buffer.getvalue()
