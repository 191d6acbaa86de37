"""Bring a lab of nspawn hosts up and down.

Each host boots an overlayfs copy of the cached image inside its own network namespace. State
is kept in a JSON file per lab so that ``down`` (and ``down --all`` after a crash) removes
every namespace, link, mount and process the lab made; a sweep by name prefix catches what a
killed run left before it could write its state.
"""

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import yaml

from mpcpu_lab import cgroups, image, net, paths, topology, uplink

BOOT_TIMEOUT = 90
STOP_TIMEOUT = 15
NO_HOST_KEYS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null")


class LabError(RuntimeError):
    """The lab could not be brought up; it has been torn down again."""


@contextlib.contextmanager
def _locked():
    os.makedirs(paths.run_dir(), exist_ok=True)
    with open(os.path.join(paths.run_dir(), ".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def machine_name(lab, host):
    return "%s-%s-%s" % (paths.PREFIX, lab, host)


def _state_file(lab):
    return os.path.join(paths.lab_dir(lab), "state.json")


def _write_state(state):
    with open(_state_file(state["name"]), "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)


def read_state(lab):
    with open(_state_file(lab), encoding="utf-8") as handle:
        return json.load(handle)


def inventory_path(lab):
    return os.path.join(paths.lab_dir(lab), "inventory.yml")


# --- up ----------------------------------------------------------------------------------


def _check_free(topo):
    if os.path.exists(paths.lab_dir(topo["name"])):
        raise LabError("lab %r is already up: run 'down %s' first" % (topo["name"], topo["name"]))
    taken = net.bridge_networks()
    mirrors = uplink.mirror_addresses()
    for bridge in topo["bridges"]:
        wanted = ipaddress.ip_network(bridge["cidr"])
        for address, host in sorted(mirrors.items()):
            if address in wanted:
                raise LabError(
                    "bridge %s: %s contains %s, where this machine reaches its mirror %s: "
                    "pick another subnet" % (bridge["name"], wanted, address, host)
                )
        for owner, network in taken.items():
            if wanted.overlaps(network):
                raise LabError(
                    "bridge %s: %s overlaps %s on %s" % (bridge["name"], wanted, network, owner)
                )


# nspawn hands a host given --network-namespace-path a sysfs that lists the machine's network
# interfaces, not the host's: facts and tools would see the wrong links. A fresh sysfs mounted
# inside the host is right, so its net views are bound over the leaked ones before anything runs.
OWN_SYSFS_UNIT = """[Unit]
Description=Show this lab host its own network interfaces in /sys
DefaultDependencies=no
Before=sysinit.target systemd-udevd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/mkdir -p /run/own-sysfs
ExecStart=/bin/mount -t sysfs sysfs /run/own-sysfs
ExecStart=/bin/mount --bind /run/own-sysfs/class/net /sys/class/net
ExecStart=/bin/mount --bind /run/own-sysfs/devices/virtual/net /sys/devices/virtual/net

[Install]
WantedBy=sysinit.target
"""


def _own_sysfs(root):
    units = os.path.join(root, "etc/systemd/system")
    with open(os.path.join(units, "mpcpu-lab-sysfs.service"), "w", encoding="utf-8") as handle:
        handle.write(OWN_SYSFS_UNIT)
    wants = os.path.join(units, "sysinit.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("../mpcpu-lab-sysfs.service", os.path.join(wants, "mpcpu-lab-sysfs.service"))


def _host_files(root, host, topo, key):
    _own_sysfs(root)
    ssh_dir = os.path.join(root, "root/.ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    shutil.copyfile(key + ".pub", os.path.join(ssh_dir, "authorized_keys"))
    os.chmod(os.path.join(ssh_dir, "authorized_keys"), 0o600)
    with open(os.path.join(root, "etc/hostname"), "w", encoding="utf-8") as handle:
        handle.write(host["name"] + "\n")
    lines = ["127.0.0.1 localhost", "127.0.1.1 %s" % host["name"]]
    for other in topo["hosts"]:
        lines.append("%s %s" % (other["links"][0]["addresses"][0].split("/")[0], other["name"]))
    with open(os.path.join(root, "etc/hosts"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _mount_root(host_dir, lower):
    for part in ("upper", "work", "root"):
        os.makedirs(os.path.join(host_dir, part), exist_ok=True)
    options = "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (lower, host_dir, host_dir)
    net.run("mount", "-t", "overlay", "overlay", "-o", options, os.path.join(host_dir, "root"))


def _boot(topo, host, host_dir, netns, own_cgroups):
    argv = [
        "systemd-nspawn",
        "--quiet",
        "-D",
        os.path.join(host_dir, "root"),
        "--boot",
        "--machine=" + machine_name(topo["name"], host["name"]),
        "--hostname=" + host["name"],
        "--network-namespace-path=/run/netns/" + netns,
        "--capability=CAP_NET_ADMIN,CAP_NET_RAW",
        "--register=no",
        "--keep-unit",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=passive",
        "--bind-ro=%s:/opt/megapower" % paths.checkout_dir(),
    ]
    with open(os.path.join(host_dir, "console.log"), "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Joined before exec so nspawn never runs in the shared cgroup; the lab tool
            # starts hosts from one thread, which is what makes preexec_fn safe here.
            preexec_fn=lambda: cgroups.enter(own_cgroups),  # noqa: PLW1509
        )
    return process.pid


def ssh_argv(state, host, *command):
    address = state["hosts"][host]["address"]
    options = NO_HOST_KEYS + (
        "-o",
        "LogLevel=ERROR",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
    )
    return ["ssh", "-i", state["ssh_key"], *options, "root@" + address, *command]


def _wait_for_ssh(address, deadline):
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection((address, 22), timeout=1) as conn,
        ):
            if conn.recv(4).startswith(b"SSH"):
                return
        time.sleep(0.2)
    raise LabError("%s: no SSH within %d s" % (address, BOOT_TIMEOUT))


def _wait_until_booted(state, host, deadline):
    _wait_for_ssh(state["hosts"][host]["address"], deadline)
    while time.monotonic() < deadline:
        result = subprocess.run(
            ssh_argv(state, host, "systemctl", "is-system-running", "--wait"),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.stdout.strip() in ("running", "degraded"):
            return
        time.sleep(0.5)
    raise LabError("%s: not booted within %d s" % (host, BOOT_TIMEOUT))


def _write_inventory(state):
    hosts = {
        name: {
            "ansible_host": host["address"],
            "ansible_user": "root",
            "ansible_ssh_private_key_file": state["ssh_key"],
            "ansible_python_interpreter": "/usr/bin/python3",
            # Every lab boot makes new hosts at old addresses: never pin their host keys.
            "ansible_ssh_common_args": " ".join(NO_HOST_KEYS),
        }
        for name, host in sorted(state["hosts"].items())
    }
    with open(inventory_path(state["name"]), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"all": {"hosts": hosts}}, handle, default_flow_style=False)


def _start_host(topo, state, index, host, lowers):
    lab = topo["name"]
    netns = net.netns_name(lab, host["name"])
    host_dir = os.path.join(paths.lab_dir(lab), host["name"])
    entry = {"netns": netns, "dir": host_dir, "links": [], "pid": None, "cgroups": []}
    entry["address"] = host["links"][0]["addresses"][0].split("/")[0]
    entry["release"] = host.get("release", image.DEFAULT_RELEASE)
    state["hosts"][host["name"]] = entry
    _write_state(state)
    net.add_netns(netns, host["forwarding"])
    for link_index, link in enumerate(host["links"]):
        veth = net.veth_name(lab, index, link_index)
        entry["links"].append(veth)
        _write_state(state)
        net.add_link(netns, veth, state["bridges"][link["bridge"]], link_index, link)
    _mount_root(host_dir, lowers[host.get("release", image.DEFAULT_RELEASE)])
    _host_files(os.path.join(host_dir, "root"), host, topo, state["ssh_key"])
    entry["cgroups"] = cgroups.create(machine_name(lab, host["name"]))
    _write_state(state)
    entry["pid"] = _boot(topo, host, host_dir, netns, entry["cgroups"])
    _write_state(state)


def up(topo):
    """Bring the lab up and return its state; on any failure, tear down what was made."""
    releases = sorted({host.get("release", image.DEFAULT_RELEASE) for host in topo["hosts"]})
    lowers = {release: image.build(release) for release in releases}
    key = paths.ssh_key()
    with _locked():
        _check_free(topo)
        os.makedirs(paths.lab_dir(topo["name"]))
        state = {"name": topo["name"], "ssh_key": key, "bridges": {}, "hosts": {}, "topology": topo}
        _write_state(state)
        try:
            for index, bridge in enumerate(topo["bridges"]):
                name = net.bridge_name(topo["name"], index)
                state["bridges"][bridge["name"]] = name
                _write_state(state)
                net.add_bridge(name, bridge["cidr"], bridge["controller"])
            for index, host in enumerate(topo["hosts"]):
                _start_host(topo, state, index, host, lowers)
        except BaseException:
            _teardown(state)
            raise
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        for host in topo["hosts"]:
            _wait_until_booted(state, host["name"], deadline)
    except BaseException:
        down(topo["name"])
        raise
    _write_inventory(state)
    return state


def reboot(state, host):
    """Power ``host`` off cleanly and boot it again from the same disk (its overlay's upper
    layer keeps what was written), as a reboot would: what the host loads at boot is tested."""
    topo = state["topology"]
    entry = state["hosts"][host]
    spec = next(item for item in topo["hosts"] if item["name"] == host)
    _stop_process(entry["pid"])
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree("/run/systemd/nspawn/propagate/" + machine_name(state["name"], host))
    entry["pid"] = _boot(topo, spec, entry["dir"], entry["netns"], entry["cgroups"])
    _write_state(state)
    _wait_until_booted(state, host, time.monotonic() + BOOT_TIMEOUT)


# --- down ----------------------------------------------------------------------------------


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError), open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        return handle.read().split()[2] != "Z"
    return False


def _stop_process(pid):
    if not pid or not _alive(pid):
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)


def _unmount(path):
    if os.path.ismount(path):
        net.run("umount", path, check=False)
    if os.path.ismount(path):
        net.run("umount", "-l", path, check=False)


def _teardown(state):
    for host, entry in state["hosts"].items():
        _stop_process(entry.get("pid"))
        for directory in entry.get("cgroups", []):
            cgroups.remove(directory)
        _unmount(os.path.join(entry["dir"], "root"))
        net.delete_netns(entry["netns"])
        for veth in entry["links"]:
            net.delete_link(veth)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree("/run/systemd/nspawn/propagate/" + machine_name(state["name"], host))
    for bridge in state["bridges"].values():
        net.delete_link(bridge)
    shutil.rmtree(paths.lab_dir(state["name"]), ignore_errors=True)


def down(lab):
    with _locked():
        try:
            state = read_state(lab)
        except (OSError, ValueError):
            state = {"name": lab, "hosts": {}, "bridges": {}}
        _teardown(state)


def labs():
    if not os.path.isdir(paths.run_dir()):
        return []
    return sorted(name for name in os.listdir(paths.run_dir()) if not name.startswith("."))


def _stray_nspawn_pids():
    marker = "--machine=%s-" % paths.PREFIX
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and marker.encode() in _cmdline(name):
            pids.append(int(name))
    return pids


def _stray_mounts():
    prefix = paths.run_dir().rstrip("/") + "/"
    with open("/proc/mounts", encoding="utf-8") as handle:
        points = [line.split()[1] for line in handle]
    return sorted((point for point in points if point.startswith(prefix)), reverse=True)


def down_all():
    """Tear down every lab, then sweep anything left by a run that died before its state."""
    for lab in labs():
        down(lab)
    with _locked():
        for pid in _stray_nspawn_pids():
            _stop_process(pid)
        for point in _stray_mounts():
            _unmount(point)
        for directory in cgroups.leftovers():
            cgroups.remove(directory)
        for netns in net.lab_netns():
            net.delete_netns(netns)
        for link in net.lab_links():
            net.delete_link(link)
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir("/run/systemd/nspawn/propagate"):
                if name.startswith(paths.PREFIX + "-"):
                    shutil.rmtree("/run/systemd/nspawn/propagate/" + name, ignore_errors=True)


def leftovers(ignore=()):
    """What a lab left on the machine: empty when everything is clean. What belongs to a lab
    named in ``ignore`` (another run's, up at the same time) is left out."""
    found = {
        "netns": net.lab_netns(),
        "links": net.lab_links(),
        "processes": _stray_nspawn_pids(),
        "mounts": _stray_mounts(),
        "cgroups": cgroups.leftovers(),
        "labs": labs(),
    }
    return dict(
        (kind, [item for item in items if not any(belongs_to(kind, item, name) for name in ignore)])
        for kind, items in found.items()
    )


def belongs_to(kind, item, lab_name):
    """Whether ``item``, a leftover of ``kind`` (a key of ``leftovers()``), is lab
    ``lab_name``'s: names are made from the lab's name, processes say it in their machine."""
    host_prefix = machine_name(lab_name, "")
    if kind == "labs":
        return item == lab_name
    if kind in ("netns", "cgroups"):
        return os.path.basename(item).startswith(host_prefix)
    if kind == "links":
        link = r"%s%s(b\d+|h\d+l\d+)" % (re.escape(paths.PREFIX), re.escape(lab_name))
        return re.fullmatch(link, item) is not None
    if kind == "mounts":
        return item.startswith(paths.lab_dir(lab_name) + "/")
    if kind == "processes":
        return ("--machine=" + host_prefix).encode() in _cmdline(item)
    raise ValueError("unknown kind of leftover: %r" % kind)


def _cmdline(pid):
    """A process's command line as /proc has it (empty once the process is gone)."""
    with contextlib.suppress(OSError), open("/proc/%s/cmdline" % pid, "rb") as handle:
        return handle.read()
    return b""


@contextlib.contextmanager
def running(topo_or_path):
    """``with running(topology) as state:``; the lab is torn down however the block ends."""
    topo = topo_or_path if isinstance(topo_or_path, dict) else topology.load(topo_or_path)
    state = up(topo)
    try:
        yield state
    finally:
        down(topo["name"])
