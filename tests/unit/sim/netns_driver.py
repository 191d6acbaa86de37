"""Run inside a throwaway network namespace (``unshare -n``): only a loopback exists there.

    unshare -n python3 netns_driver.py dhcp MAC [--no-server]
    unshare -n python3 netns_driver.py default-ports

Prints one JSON object. ``dhcp`` plays a minimal DHCP server on port 67 and runs the
simulator's ``dhcp`` client (whose broadcasts stay inside the namespace); ``default-ports``
runs ``serve`` without port overrides and reports what it bound. The namespace vanishes with
the process: nothing to clean up.
"""

import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
WRAPPER = os.path.join(CHECKOUT, "lab", "bin", "mpcpu-sim")
sys.path[:0] = [os.path.join(CHECKOUT, "lab"), os.path.join(CHECKOUT, "collections")]

from mpcpu_sim.clients import dhcp  # noqa: E402
from mpcpu_sim.table import appendix_d, tftp  # noqa: E402

LEASE = {"offered": "198.51.100.50", "router": "198.51.100.1", "ntp": "203.0.113.10"}


def _bring_up_loopback():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def _dhcp_reply(request, message_type):
    fields = list(dhcp.BOOTP_HEADER.unpack_from(request))
    fields[0] = dhcp.BOOTREPLY
    fields[8] = socket.inet_aton(LEASE["offered"])  # yiaddr
    header = dhcp.BOOTP_HEADER.pack(*fields)
    options = [
        dhcp._option(dhcp.OPT_MESSAGE_TYPE, bytes([message_type])),
        dhcp._option(dhcp.OPT_SERVER_ID, socket.inet_aton("127.0.0.1")),
        dhcp._option(dhcp.OPT_SUBNET_MASK, socket.inet_aton("255.255.255.0")),
        dhcp._option(dhcp.OPT_ROUTER, socket.inet_aton(LEASE["router"])),
        dhcp._option(dhcp.OPT_NTP, socket.inet_aton(LEASE["ntp"])),
        dhcp._option(dhcp.OPT_LEASE_TIME, struct.pack("!I", 3600)),
    ]
    return header + dhcp.MAGIC_COOKIE + b"".join(options) + b"\xff"


def _serve_dhcp(sock, seen, stop):
    answers = {dhcp.DISCOVER: dhcp.OFFER, dhcp.REQUEST: dhcp.ACK}
    while not stop.is_set():
        try:
            request, source = sock.recvfrom(4096)
        except TimeoutError:
            continue
        fields = dhcp.BOOTP_HEADER.unpack_from(request)
        options = dhcp.parse_options(request[dhcp.BOOTP_HEADER.size + 4 :])
        message_type = options[dhcp.OPT_MESSAGE_TYPE][0]
        seen.append(
            {
                "type": dhcp.MESSAGE_NAMES[message_type],
                "source": list(source),
                "broadcast_flag": bool(fields[6] & dhcp.BROADCAST_FLAG),
                "chaddr": fields[11][:6].hex(":"),
                "requested": socket.inet_ntoa(options.get(dhcp.OPT_REQUESTED_IP, bytes(4))),
            }
        )
        reply = _dhcp_reply(request, answers[message_type])
        sock.sendto(reply, ("255.255.255.255", appendix_d.row("ip_assignment").mpcpu_port))


def run_dhcp(mac, with_server):
    seen, stop = [], threading.Event()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
    sock.bind(("0.0.0.0", appendix_d.row("ip_assignment").pc_port))
    sock.settimeout(0.2)
    server = threading.Thread(target=_serve_dhcp, args=(sock, seen, stop), daemon=True)
    if with_server:
        server.start()
    argv = [WRAPPER, "--json", "dhcp", "--interface", "lo", "--mac", mac]
    argv += ["--timeout", "1", "--retries", "1"]
    client = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    stop.set()
    if with_server:
        server.join(5)
    sock.close()
    return {"rc": client.returncode, "stdout": client.stdout, "stderr": client.stderr, "seen": seen}


def run_default_ports():
    with tempfile.TemporaryDirectory(prefix="mpcpu-sim-ns-") as workdir:
        return _default_ports(os.path.join(workdir, "status.json"))


def _default_ports(status_path):
    argv = [WRAPPER, "serve", "--address", "127.0.0.2", "--control", status_path]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(status_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(status_path, encoding="utf-8") as handle:
            ports = json.load(handle)["devices"]["cpu001"]["ports"]
        buffer = io.BytesIO()
        tftp.TftpClient("127.0.0.2", timeout=1.0).read("mpcpu_time.txt", buffer)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"STATUS", ("127.0.0.2", appendix_d.row("easy_cpu").mpcpu_port))
            status_reply = sock.recv(2048).decode("ascii")
        log_port = appendix_d.row("activity_logging").mpcpu_port
        with socket.create_connection(("127.0.0.2", log_port), timeout=5) as sock:
            sock.sendall(b"LOG 1\r\n")
            log_line = sock.makefile("rb").readline().decode("ascii")
    finally:
        process.terminate()
        returncode = process.wait(30)
    return {
        "ports": ports,
        "time": buffer.getvalue().decode("ascii"),
        "status_reply": status_reply,
        "log_line": log_line,
        "rc": returncode,
    }


def main(argv):
    _bring_up_loopback()
    if argv[0] == "dhcp":
        result = run_dhcp(argv[1], "--no-server" not in argv)
    else:
        result = run_default_ports()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
