"""A whole site whose MPCPUs speak another dialect: every device-side setting non-default.

One simulator process plays a hot-standby pair and a single CPU on loopback (127.77.21.x),
configured with the same non-default settings as the inventory's ``mpcpu_site.device_protocol``
(and one CPU's own ``mpcpu_device_protocol``): other time, firmware and version file names and
formats, another status request and reply, another activity-log request. The site's device
plays (time, then playbooks/firmware.yml), verify (playbooks/verify.yml) and the log collector
(its configuration rendered by the role's own template) all work against it; the same clients
with the default settings fail against it. What happened is read from the simulator's control
file and from the collector's files. Sends traffic only to 127.77.21.0/24 on loopback.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

import ansible_cli
from mpcpu_sim import launch

ROOT = ansible_cli.ROOT
VERSION = "6.1"
IMAGE = b"MPCPU-FW %s\n" % VERSION.encode() + bytes(range(256)) * 32
# name: (address, mate, role at start)
DEVICES = {
    "A1": ("127.77.21.11", "B1", "selected"),
    "B1": ("127.77.21.21", "A1", "standby"),
    "S1": ("127.77.21.31", "", ""),
}
SERVICE_IP = "127.77.21.129"
# Every device-side setting of the site, none at its default (site_model.protocol.DEFAULTS).
SITE_PROTOCOL = {
    "time_file": "clock.dat",
    "time_format": "%d.%m.%Y %H:%M:%S",
    "firmware_file": "cpu.img",
    "firmware_version_file": "cpu.ver",
    "firmware_version_regex": r"(?m)^FW (\S+)$",
    "firmware_sha256_regex": r"(?m)^SUM ([0-9a-f]{64})$",
    "status_request": "HELLO 4001\r\n",
    "status_version_regex": r"\brev:(\S+)",
    "status_selected_regex": r"\bmode=(\w+)",
    "status_selected_value": "MASTER",
    "activity_log_request": "GET LOG FROM {seq}\r\n",
    "restart_timeout": 60,
}
# S1 keeps its clock in a file of its own: a CPU's own setting over the site's.
S1_PROTOCOL = {"time_file": "s1clock.dat"}
# The same dialect, as the simulator's device settings (docs/simulator.md).
SIMULATOR_DIALECT = {
    "time_file": "clock.dat",
    "time_format": "%d.%m.%Y %H:%M:%S",
    "firmware_file": "cpu.img",
    "firmware_version_file": "cpu.ver",
    "firmware_version_format": "FW {version}\nSUM {sha256}\n",
    "status_request": "HELLO 4001\r\n",
    "status_reply_format": "CPU {name} rev:{version}{role}",
    "status_role_format": " mode={state}",
    "status_selected_word": "MASTER",
    "status_standby_word": "SLAVE",
    "log_request": "GET LOG FROM {seq}\r\n",
}


def _start_simulator(workdir):
    config = workdir / "simulator-config.json"
    devices = [
        {"name": name, "address": ip, "clock_offset": 3600}
        | ({"mate": mate, "role": role} if mate else {})
        | ({"time_file": S1_PROTOCOL["time_file"]} if name == "S1" else {})
        for name, (ip, mate, role) in DEVICES.items()
    ]
    defaults = dict(SIMULATOR_DIALECT, log_rate=20, flash_seconds=1.0, log_request_wait=0.5)
    config.write_text(json.dumps({"defaults": defaults, "devices": devices}))
    status_file = workdir / "simulator.json"
    log_file = workdir / "simulator.log"
    environment = dict(os.environ, PYTHONPATH="%s/lab" % ROOT)
    argv = [sys.executable, "-m", "mpcpu_sim", "serve", "--config", str(config)]
    argv += ["--status-file", str(status_file)]
    with open(log_file, "w") as log:
        process = subprocess.Popen(argv, env=environment, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("simulator exited: %s" % log_file.read_text())
        try:
            if json.loads(status_file.read_text()).get("running"):
                return process, status_file, log_file
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("simulator not running after 30 s")


def _stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dialect-simulator")
    process, status_file, log_file = _start_simulator(workdir)
    try:
        yield status_file, log_file
    finally:
        _stop(process)


def _inventory(tmp_path, dialect):
    image = tmp_path / "mpcpu-6.1.bin"
    image.write_bytes(IMAGE)
    firmware = {"file": str(image), "version": VERSION, "sha256": hashlib.sha256(IMAGE).hexdigest()}
    hosts = dict(
        (
            name,
            {
                "mpcpu_ip": ip,
                "mpcpu_mac": "02:00:00:77:21:%02x" % int(ip.rsplit(".", 1)[1]),
                "mpcpu_firmware": firmware,
                **({"mpcpu_mate": mate} if mate else {}),
                **({"mpcpu_device_protocol": S1_PROTOCOL} if dialect and name == "S1" else {}),
            },
        )
        for name, (ip, mate, _role) in DEVICES.items()
    )
    site = launch.loopback_site(
        "dialect", "127.77.21", ["activity_logging", "easy_cpu", "time_firmware"]
    )
    if dialect:
        site["device_protocol"] = SITE_PROTOCOL
    groups = ("mpcpu_easy_consoles", "mpcpu_log_collectors")
    inventory = launch.controller_inventory(site, hosts, SERVICE_IP, groups)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


VALIDATE = """
- name: Validate the MPCPU site model
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.site_model
      vars: {site_model_show_matrix: false}
"""

# The collector's configuration as the log_collector role writes it: its own template and
# variables, the log and state directories in the test's directory.
COLLECTOR_CONFIG = """
- name: Render the collector's configuration from the site model
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - %(root)s/roles/log_collector/defaults/main.yml
    - %(root)s/roles/log_collector/vars/main.yml
  tasks:
    - name: Read this host's view
      ansible.builtin.set_fact:
        __log_collector_view: >-
          {{ site_model_compiled | megapower.mpcpu.site_host_view('localhost') }}
    - name: Write the configuration
      ansible.builtin.template:
        src: %(root)s/roles/log_collector/templates/config.json.j2
        dest: "%(out)s/collector.json"
        mode: "0644"
      vars:
        log_collector_site_model: "{{ site_model_compiled }}"
        log_collector_log_dir: "%(out)s/logs"
        __log_collector_state_dir: "%(out)s/state"
        log_collector_backoff_initial: 0.2
        log_collector_backoff_max: 0.5
"""

# The device plays of site.yml (time, then the firmware playbook).
DEVICE_PLAYS = """
- name: MPCPU calendar time, set from the management host's clock
  hosts: mpcpu
  gather_facts: false
  roles:
    - role: megapower.mpcpu.devices
      vars:
        devices_action: time
        devices_site_model: "{{ hostvars['localhost'].site_model_compiled }}"
- name: MPCPU firmware
  ansible.builtin.import_playbook: %(root)s/playbooks/firmware.yml
"""

VERIFY = """
- name: Verify every flow of the site
  ansible.builtin.import_playbook: %(root)s/playbooks/verify.yml
"""


def _playbook(tmp_path, dialect, text, *flags):
    playbook = tmp_path / "play.yml"
    playbook.write_text(text % {"root": ROOT, "out": tmp_path})
    return ansible_cli.run(
        "ansible-playbook",
        "-i",
        _inventory(tmp_path, dialect),
        playbook,
        "-e",
        "mpcpu_output_dir=%s" % tmp_path,
        *flags,
        cwd=tmp_path,
        timeout=600,
    )


def _site_run(tmp_path, dialect):
    """The collector's configuration, the device plays (dialect only) and verify, in one run."""
    plays = VALIDATE + COLLECTOR_CONFIG + (DEVICE_PLAYS if dialect else "") + VERIFY
    return _playbook(
        tmp_path,
        dialect,
        plays,
        "-e",
        "__devices_image=%s/cache/{{ __devices_firmware.file | basename }}" % tmp_path,
    )


def _report(tmp_path):
    return (tmp_path / "mpcpu-verify-dialect" / "report.md").read_text()


def _collect(tmp_path, seconds=3.0):
    """Run the collector with the configuration the role wrote; its log lines."""
    for directory in ("logs", "state"):
        (tmp_path / directory).mkdir(exist_ok=True)
    program = ROOT / "roles" / "log_collector" / "files" / "mpcpu_log_collector.py"
    argv = [sys.executable, str(program), "--config", str(tmp_path / "collector.json")]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
    finally:
        _stop(process)
    return dict(
        (path.name, path.read_text().splitlines()) for path in (tmp_path / "logs").glob("*.log")
    )


def _devices(status_file):
    time.sleep(0.3)  # the status file is rewritten within 0.1 s of a change
    return json.loads(status_file.read_text())["devices"]


def _numbered(lines):
    return [line for line in lines if line.split(" ", 1)[0].isdigit()]


def test_a_site_in_another_dialect_is_set_flashed_verified_and_collected(tmp_path, simulator):
    status_file, log_file = simulator
    completed = _site_run(tmp_path, dialect=True)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output + log_file.read_text()
    words = " ".join(output.split())
    # the pair's roles came from the non-default status reply: the standby CPU went first
    assert "first wave (standby and unpaired CPUs): B1, S1'" in words
    assert "WARNING" not in words
    devices = _devices(status_file)
    assert all(devices[name]["firmware"]["version"] == VERSION for name in DEVICES)
    # the time play wrote each CPU's own time file: the host's clock, not the +1 h it had
    for name in DEVICES:
        assert abs(devices[name]["clock_offset"]) < 30, (name, devices[name])
    report = _report(tmp_path)
    assert "9 passed, 0 failed, 0 not probed" in report, report
    files = _collect(tmp_path)
    assert sorted(name.split("_")[1] for name in files) == sorted(
        ip for ip, _mate, _role in DEVICES.values()
    ), files
    for name, lines in files.items():
        assert lines and len(_numbered(lines)) == len(lines), (name, lines[:3])


def test_clients_with_the_default_settings_fail_against_it(tmp_path, simulator):
    _status_file, log_file = simulator
    verified = _site_run(tmp_path, dialect=False)
    assert verified.returncode != 0
    assert (tmp_path / "collector.json").is_file(), verified.stdout
    report = _report(tmp_path)
    assert "0 passed, 9 failed, 0 not probed" in report, report
    files = _collect(tmp_path)
    assert all(not _numbered(lines) for lines in files.values()), files
    assert "expected 'GET LOG FROM <next_seq>', got b'LOG 1" in log_file.read_text()
