"""Independent TFTP servers on loopback for the interop tests: atftpd, tftpd-hpa, tftpy.

Each server runs on 127.0.0.1, on a free high port, serving a fresh temporary directory,
and is stopped when its test ends, also when the test fails.
"""

import contextlib
import fcntl
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest
import tftp_peers

LOOPBACK = tftp_peers.LOOPBACK
CACHE = os.environ.get("MPCPU_LAB_CACHE", str(pathlib.Path.home() / ".cache" / "megapower-mpcpu"))
TOOLS = pathlib.Path(CACHE) / "tools"
TFTPD_HPA_ROOT = TOOLS / "tftpd-hpa"
TFTPD_HPA = TFTPD_HPA_ROOT / "usr" / "sbin" / "in.tftpd"
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


@contextlib.contextmanager
def running(name, command_for, root, host=LOOPBACK):
    """Start ``command_for(port)`` until it answers on a free port; always stop it."""
    log = root.parent / ("%s.log" % name)
    try:
        with tftp_peers.running(command_for, log, host) as (port, process):
            yield Server(name, host, port, root, process)
    except tftp_peers.NotStarted as error:
        pytest.fail("%s %s" % (name, error))


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
        return tftp_peers.atftpd_command(binary, port, root)

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
        tftp_peers.free_udp_port("::1")
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
