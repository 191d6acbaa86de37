"""The simulator as a process of its own on loopback, for integration tests and benchmarks.

    with launch.Simulator(workdir, config={"defaults": {...}, "devices": [...]}) as simulator:
        ...  # devices answer on their loopback addresses
        simulator.devices()  # the status file's per-device view
        simulator.log_text()  # its log (flash begin/end lines and the like)

``loopback_site`` and ``controller_inventory`` give the inventory of such a site, run from
this machine (localhost, this Python, as the manager). ``fleet_addresses(count)`` gives
``count`` loopback addresses (127.77.N.1-250, no .0 or .255) and ``address_arguments`` the
matching ``--address FIRST-LAST`` arguments. Only loopback addresses: ``Simulator`` refuses to
start a device elsewhere.
"""

import ipaddress
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
FLEET_FIRST_ADDRESS = ipaddress.ip_address("127.77.1.1")
DEVICES_PER_BLOCK = 250  # 127.77.1.1-250, 127.77.2.1-250, ...
STATUS_SETTLE_SECONDS = 0.3  # the status file is rewritten within 0.1 s of a change
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def fleet_addresses(count, first=FLEET_FIRST_ADDRESS):
    """``count`` loopback addresses in blocks of N.1-250 from ``first`` (a .1 address)."""
    first = ipaddress.ip_address(first)
    result = []
    for index in range(count):
        block, offset = divmod(index, DEVICES_PER_BLOCK)
        result.append(str(first + block * 256 + offset))
    return result


def address_arguments(addresses):
    """``--address FIRST-LAST`` arguments for addresses from ``fleet_addresses``."""
    arguments = []
    for start in range(0, len(addresses), DEVICES_PER_BLOCK):
        block = addresses[start : start + DEVICES_PER_BLOCK]
        arguments += ["--address", "%s-%s" % (block[0], block[-1])]
    return arguments


def loopback_site(name, block, rows):
    """``mpcpu_site`` of a site on ``block`` (``127.77.N``): MPCPUs in .0/25, the office and
    management network .128/25."""
    office = "%s.128/25" % block
    return {
        "name": name,
        "networks": [
            {"name": "cctv", "cidr": "%s.0/25" % block, "kind": "mpcpu"},
            {"name": "office", "cidr": office, "kind": "pc"},
        ],
        "management_networks": [office],
        "rows": list(rows),
    }


def controller_inventory(site, hosts, service_ip, groups=("mpcpu_easy_consoles",)):
    """The inventory of ``site``: the MPCPUs ``hosts``, and this machine (localhost, this
    Python) as the manager at ``service_ip`` and a member of ``groups``."""
    manager = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "mpcpu_service_ip": service_ip,
    }
    children = {"mpcpu": {"hosts": hosts}, "mpcpu_managers": {"hosts": {"localhost": manager}}}
    children.update((group, {"hosts": {"localhost": None}}) for group in groups)
    return {"all": {"vars": {"mpcpu_site": site}, "children": children}}


def _loopback_only(config, arguments):
    addresses = [device["address"] for device in (config or {}).get("devices", ())]
    addresses += [
        bound
        for flag, value in zip(arguments, arguments[1:], strict=False)
        if flag == "--address"
        for bound in value.rpartition("=")[2].split("-")
    ]
    strangers = [item for item in addresses if not ipaddress.ip_address(item).is_loopback]
    if strangers:
        raise ValueError("the simulator plays loopback devices only, not %s" % strangers)


class Simulator:
    """One ``python -m mpcpu_sim serve`` process, its files in ``workdir``."""

    def __init__(self, workdir, *, config=None, arguments=(), quiet=False):
        arguments = list(arguments)
        _loopback_only(config, arguments)
        self.workdir = pathlib.Path(workdir)
        self.status_file = self.workdir / "simulator.json"
        self.log_file = self.workdir / "simulator.log"
        self.argv = [sys.executable, "-m", "mpcpu_sim"] + (["-q"] if quiet else [])
        self.argv += ["serve", "--status-file", str(self.status_file)]
        if config is not None:
            config_file = self.workdir / "simulator-config.json"
            config_file.write_text(json.dumps(config))
            self.argv += ["--config", str(config_file)]
        self.argv += arguments
        self.process = None

    def start(self, seconds=60):
        """Start the process and wait until its status file says it runs."""
        paths = [str(ROOT / "lab"), str(ROOT / "collections")]
        paths += [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        with open(self.log_file, "w") as log:
            self.process = subprocess.Popen(
                self.argv, env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("simulator exited: %s" % self.log_text())
            if self.status().get("running"):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("simulator not running after %d s" % seconds)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def status(self):
        """The status file as it stands ({} before the first write)."""
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}

    def devices(self):
        """Each device's status, read once the last change has reached the file."""
        time.sleep(STATUS_SETTLE_SECONDS)
        return self.status()["devices"]

    def log_text(self):
        return self.log_file.read_text()

    def cpu_seconds(self):
        """User plus system CPU time the process has used so far."""
        stat = pathlib.Path("/proc/%d/stat" % self.process.pid).read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
