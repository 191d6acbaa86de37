"""Independent TFTP servers on loopback, for the interop tests and the TFTP benchmarks.

``running(command_for, log)`` starts ``command_for(port)`` on a free UDP port, in a process
group of its own, until it answers a read request (with ERROR 1), and always stops it with
every child; ``atftpd_command`` is atftpd's command line. Only loopback addresses.
"""

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import time

LOOPBACK = "127.0.0.1"
READY_WITHIN = 10.0  # seconds for a server to answer its first request
PROBE = b"\x00\x01interop-probe-no-such-file\x00octet\x00"


class NotStarted(RuntimeError):
    """The server exited or never answered."""


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
def running(command_for, log, host=LOOPBACK):
    """(port, process) of ``command_for(port)`` once it answers; stopped when the block ends."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError("TFTP peers run on loopback only, not %s" % host)
    for _attempt in range(3):  # another process may take the free port first
        port = free_udp_port(host)
        with open(log, "ab") as output:
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
                    yield port, process
                    return
            if process.poll() is None:
                raise NotStarted("did not answer on port %d within %ss" % (port, READY_WITHIN))
        finally:
            stop(process)
    with open(log, errors="replace") as output:
        raise NotStarted("did not start: %s" % output.read()[-2000:])


def atftpd_command(binary, port, root, host=LOOPBACK, logfile="-"):
    return [
        binary, "--daemon", "--no-fork", "--port", str(port), "--bind-address", host,
        "--user", "root", "--group", "root", "--logfile", logfile, str(root),
    ]  # fmt: skip
