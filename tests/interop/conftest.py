"""Independent TFTP servers on loopback for the interop tests: atftpd, tftpd-hpa, tftpy.

Each server runs on 127.0.0.1, on a free high port, serving a fresh temporary directory,
and is stopped when its test ends, also when the test fails.
"""

import contextlib
import fcntl
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

LOOPBACK = "127.0.0.1"
CACHE = os.environ.get("MPCPU_LAB_CACHE", str(pathlib.Path.home() / ".cache" / "megapower-mpcpu"))
TOOLS = pathlib.Path(CACHE) / "tools"
TFTPD_HPA_ROOT = TOOLS / "tftpd-hpa"
TFTPD_HPA = TFTPD_HPA_ROOT / "usr" / "sbin" / "in.tftpd"
READY_WITHIN = 10.0  # seconds for a server to answer its first request
PROBE = b"\x00\x01interop-probe-no-such-file\x00octet\x00"

# What each implementation negotiates, from its documentation and source.
SERVERS = {
    "atftpd": {"windowsize": True, "timeout": True},
    "tftpd-hpa": {"windowsize": False, "timeout": True},
    "tftpy": {"windowsize": False, "timeout": False},
}


class Server:
    """A running TFTP server: ``name``, ``port``, ``root`` (the directory it serves)."""

    def __init__(self, name, host, port, root, process):
        self.name, self.port, self.root, self.process = name, port, root, process
        self.host = host
        self.supports = SERVERS[name]

    def path(self, remote_name):
        return self.root / remote_name


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_udp_port(host):
    with socket.socket(family(host), socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def answers(host, port):
    """True once something on ``port`` answers a read request (with ERROR 1)."""
    with socket.socket(family(host), socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        probe.sendto(PROBE, (host, port))
        try:
            data = probe.recv(1024)
        except (TimeoutError, ConnectionRefusedError):
            return False
    return data[:2] == b"\x00\x05"


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@contextlib.contextmanager
def running(name, command_for, root, host=LOOPBACK):
    """Start ``command_for(port)`` until it answers on a free port; always stop it."""
    log = root.parent / ("%s.log" % name)
    for _attempt in range(3):  # another process may take the free port first
        port = free_udp_port(host)
        with log.open("ab") as output:
            process = subprocess.Popen(
                command_for(port),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches every child
            )
        try:
            deadline = time.monotonic() + READY_WITHIN
            while process.poll() is None and time.monotonic() < deadline:
                if answers(host, port):
                    yield Server(name, host, port, root, process)
                    return
            if process.poll() is None:
                pytest.fail("%s did not answer on port %d within %ss" % (name, port, READY_WITHIN))
        finally:
            stop(process)
    pytest.fail("%s did not start: %s" % (name, log.read_text(errors="replace")[-2000:]))


@contextlib.contextmanager
def exclusive(lock_path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def fetch_tftpd_hpa_deb():
    """The tftpd-hpa .deb in the tools cache, downloaded with apt-get if missing."""
    found = sorted(TOOLS.glob("tftpd-hpa_*.deb"))
    if found:
        return found[-1]
    download = ["apt-get", "download", "tftpd-hpa"]
    done = subprocess.run(download, cwd=TOOLS, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # the package lists may be missing or old
        subprocess.run(["apt-get", "update"], capture_output=True, check=False)
        done = subprocess.run(download, cwd=TOOLS, capture_output=True, text=True, check=False)
    found = sorted(TOOLS.glob("tftpd-hpa_*.deb"))
    if not found:
        pytest.fail("apt-get download tftpd-hpa failed: %s" % done.stderr.strip()[-1000:])
    return found[-1]


@pytest.fixture(scope="session")
def tftpd_hpa_binary():
    """in.tftpd from Debian's tftpd-hpa, unpacked (not installed: it conflicts with atftpd)."""
    with exclusive(TOOLS / "tftpd-hpa.lock"):
        if not os.access(TFTPD_HPA, os.X_OK):
            deb = fetch_tftpd_hpa_deb()
            unpacked = pathlib.Path(tempfile.mkdtemp(prefix="tftpd-hpa.", dir=TOOLS))
            try:
                subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
                shutil.rmtree(TFTPD_HPA_ROOT, ignore_errors=True)
                unpacked.rename(TFTPD_HPA_ROOT)
            finally:
                shutil.rmtree(unpacked, ignore_errors=True)
    return TFTPD_HPA


def server_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    root.chmod(0o777)  # atftpd and tftpd-hpa create uploads only in a world-writable directory
    return root


@pytest.fixture
def atftpd(tmp_path):
    binary = shutil.which("atftpd")
    if binary is None:
        pytest.fail("atftpd is not installed (scripts/bootstrap.sh installs it)")
    root = server_root(tmp_path)

    def command(port):
        return [
            binary, "--daemon", "--no-fork", "--port", str(port), "--bind-address", LOOPBACK,
            "--user", "root", "--group", "root", "--logfile", "-", str(root),
        ]  # fmt: skip

    with running("atftpd", command, root) as server:
        yield server


@pytest.fixture
def tftpd_hpa(tmp_path, tftpd_hpa_binary):
    root = server_root(tmp_path)

    def command(port):
        address = "%s:%d" % (LOOPBACK, port)
        return [str(tftpd_hpa_binary), "-L", "-a", address, "-s", "-c", "-u", "root", str(root)]

    with running("tftpd-hpa", command, root) as server:
        yield server


@pytest.fixture
def tftpd_hpa_ipv6(tmp_path, tftpd_hpa_binary):
    try:
        free_udp_port("::1")
    except OSError:
        pytest.skip("this host has no IPv6 loopback (::1)")
    root = server_root(tmp_path)

    def command(port):
        address = "[::1]:%d" % port
        return [str(tftpd_hpa_binary), "-L", "-a", address, "-s", "-c", "-u", "root", str(root)]

    with running("tftpd-hpa", command, root, host="::1") as server:
        yield server


TFTPY_SERVER = (
    "import sys, tftpy; tftpy.TftpServer(sys.argv[1]).listen(sys.argv[2], int(sys.argv[3]))"
)


@pytest.fixture
def tftpy_server(tmp_path):
    try:
        import tftpy  # noqa: F401, PLC0415 - only to fail with a clear message
    except ImportError:
        pytest.fail("tftpy is missing from the venv (requirements.txt; scripts/bootstrap.sh)")
    root = server_root(tmp_path)

    def command(port):
        return [sys.executable, "-c", TFTPY_SERVER, str(root), LOOPBACK, str(port)]

    with running("tftpy", command, root) as server:
        yield server


@pytest.fixture(params=sorted(SERVERS))
def server(request):
    """Each independent server in turn."""
    fixture = {"atftpd": "atftpd", "tftpd-hpa": "tftpd_hpa", "tftpy": "tftpy_server"}
    return request.getfixturevalue(fixture[request.param])
