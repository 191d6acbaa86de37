"""The firewall role on real hosts, proven with real packets, for nftables, iptables and firewalld.

The lab (molecule/firewall/lab.yml): ``device`` plays MPCPU cpu-1 on the MPCPU network, where
``intruder`` also sits; ``gw`` routes between that network and the office network, where ``pc``
plays every PC part but DHCP, which ``gw`` serves. One booted lab for the whole file, phases:

- host mode (nftables, iptables): ``pc`` runs the firewall, ``gw`` only forwards;
- gateway mode (iptables, nftables, then firewalld running on ``gw``): ``gw`` runs the
  firewall (forward chain or policies and its own DHCP part), ``pc`` none.

In each: every flow the table names passes, TFTP in both directions through the conntrack
helper; a scan of every TCP and UDP port from the MPCPU reaches only the named ones; the
intruder gets none of the MPCPU flows. IPv6 (2001:db8:a::/64 on the MPCPU network,
2001:db8:b::/64 on the office, link-local on both, the router forwarding): without a firewall
on the router the MPCPU reaches its SSH over IPv6; with one, a scan of every TCP port of its
link-local and global address and every free UDP port finds nothing, nothing is forwarded,
and SSH over IPv6 from the management side still logs in. Each phase also proves, on the
rules it applied: a second run changes nothing, check mode shows one more MPCPU in the diff and
changes nothing, and a new ruleset the controller cannot confirm (locked out in host mode; a
confirm port nothing answers with firewalld) rolls back by itself, seen by packets. Then: bad
input changes nothing; the ruleset survives a reload of nftables.service; beside a company
baseline, ufw and a running firewalld (chosen by auto). Last, under other inventories of the
same booted lab: a flat site (the MPCPU network declared kind shared, gw its only server,
intruder a LAN client that keeps its own services) and a VRRP-style extra flow between two
routers on the MPCPU network.

A playbook run is the costly step: ``FirewallLab.ensure`` skips one when the lab already holds
what it would apply (the last run's variables, with nothing else changed since).
"""

import contextlib
import ipaddress
import json
import pathlib
import re
import subprocess
import time

import pytest
import yaml

import ansible_cli
from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from mpcpu_lab import lab, net, topology

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "molecule" / "firewall"
LAB_NAME = "fwpy"
PROBE = "python3 /opt/megapower/tests/lab/test_firewall_probe.py"
TOPOLOGY = topology.load(SCENARIO / "lab.yml")
BACKENDS = ["nftables", "iptables"]
EPHEMERAL_PORTS = (32768, 60999)  # Debian's net.ipv4.ip_local_port_range

ROWS = appendix_d.ROWS_BY_ID
NTP = ROWS["ntp"].pc_port
SMTP = ROWS["alarm_email"].pc_port
SNAPSHOT_TFTP = ROWS["snapshot"].pc_port
TIME_TFTP = ROWS["time_firmware"].mpcpu_port
ACTIVITY_LOG = ROWS["activity_logging"].mpcpu_port
EASY_CPU = ROWS["easy_cpu"].mpcpu_port
DHCP_SERVER = ROWS["ip_assignment"].pc_port
DHCP_CLIENT = ROWS["ip_assignment"].mpcpu_port
UNANSWERED_PORT = 40123  # a PC port nothing in the table names
TFTP = 69  # where in.tftpd listens in the lab (Appendix D rows use it both ways)
FIREWALLD_KINDS = ("ipsets", "services", "zones", "policies")


def _address(host, link=0):
    for entry in TOPOLOGY["hosts"]:
        if entry["name"] == host:
            return entry["links"][link]["addresses"][0].split("/")[0]
    raise KeyError(host)


DEVICE = _address("device")
INTRUDER = _address("intruder")
PC = _address("pc")
GW_ON_CCTV = _address("gw", 1)

# IPv6 the test adds (molecule/firewall/inventory/group_vars names the controller's as an IPv6
# management network). MPCPUs speak IPv4 only: the device's address stands for any IPv6 a
# device on the MPCPU network could use.
CCTV6, OFFICE6 = "2001:db8:a::", "2001:db8:b::"
GW6_ON_CCTV, GW6_ON_OFFICE = CCTV6 + "1", OFFICE6 + "1"
DEVICE6, PC6, CONTROLLER6 = CCTV6 + "70", OFFICE6 + "10", OFFICE6 + "fe"
IPV6_SETUP = {
    "device": [("eth0", DEVICE6), ("route", "default via %s" % GW6_ON_CCTV)],
    "pc": [("eth0", PC6), ("route", "%s/64 via %s" % (CCTV6, GW6_ON_OFFICE))],
    "gw": [("eth0", GW6_ON_OFFICE), ("eth1", GW6_ON_CCTV)],
}
# What a device would try through the router: SSH and every port Appendix D names.
FORWARD_PROBE_PORTS = ",".join(
    str(port)
    for port in sorted(
        {22} | {p for row in ROWS.values() for p in (row.pc_port, row.mpcpu_port) if p}
    )
)


class FirewallLab:
    """The booted lab: commands on its hosts, probes, and playbook runs of the role."""

    def __init__(self, state, workdir):
        self.state = state
        self.workdir = workdir
        # What the last playbook run left applied, to skip a run that would change nothing;
        # None once anything else (a failed run, a reboot, another firewall) may have changed it.
        self.applied = None
        self.firewalld = set()  # hosts where firewalld runs: there auto is not nftables

    def sh(self, host, command, timeout=180, check=True):
        # ssh makes an inherited stdin non-blocking, which later breaks ansible-playbook.
        result = subprocess.run(
            lab.ssh_argv(self.state, host, command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert result.returncode == 0, "%s: %s\n%s%s" % (
                host,
                command,
                result.stdout,
                result.stderr,
            )
        return result

    def probe(self, host, *args, timeout=180):
        output = self.sh(host, " ".join([PROBE] + [str(a) for a in args]), timeout=timeout)
        return json.loads(output.stdout) if output.stdout.strip() else None

    def start(self, host, name, command, port=None, protocol="udp"):
        """Run ``command`` as a unit; with a ``port``, return once it listens there.

        Without one the caller waits for the ready file the command writes."""
        self.stop(host, name)
        listening = ""
        if port is not None:
            flag = "u" if protocol == "udp" else "t"
            listening = (
                " && for i in $(seq 200); do ss -Hln%s 'sport = :%d' | grep -q . && exit 0;"
                " sleep 0.05; done; exit 1" % (flag, port)
            )
        self.sh(
            host, "systemd-run --quiet --collect --unit=fwt-%s %s%s" % (name, command, listening)
        )

    def stop(self, host, name):
        # SIGKILL first: a TFTP server whose transfer a firewall blocks keeps retransmitting and
        # would hold "systemctl stop" for its stop timeout. What the servers saw is logged.
        self.sh(
            host,
            "systemctl kill --signal=SIGKILL fwt-%s 2>/dev/null; systemctl stop fwt-%s 2>/dev/null;"
            " rm -f /run/fwt-%s.log" % (name, name, name),
            check=False,
        )

    def logged(self, host, name):
        text = self.sh(host, "cat /run/fwt-%s.log 2>/dev/null || true" % name).stdout
        return [json.loads(line) for line in text.splitlines()]

    def playbook(self, host_vars, *extra, check=True):
        phase = self.workdir / "phase.yml"
        phase.write_text(yaml.safe_dump({"all": {"hosts": host_vars}}), encoding="utf-8")
        environment = ansible_cli.environment(ANSIBLE_FORCE_COLOR="0")
        result = subprocess.run(
            [
                "ansible-playbook",
                "-i",
                str(SCENARIO / "inventory"),
                "-i",
                lab.inventory_path(self.state["name"]),
                "-i",
                str(phase),
                str(SCENARIO / "converge.yml"),
                *extra,
            ],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check:
            assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
        if "--check" not in extra:
            self.applied = _effective(self, host_vars) if result.returncode == 0 else None
        return result

    def ensure(self, host_vars):
        """Apply ``host_vars`` unless the lab holds exactly that from the last run already."""
        if self.applied is None or self.applied != _effective(self, host_vars):
            self.playbook(host_vars)

    def forget(self, host):
        """Something beside the role changed ``host``: the next run there is not skipped."""
        if self.applied is not None:
            self.applied[host] = None

    def holds(self, host, variables):
        """Whether the last run left ``variables`` applied on ``host`` (and nothing since)."""
        return self.applied is not None and self.applied.get(host) == _effective(
            self, {host: variables}
        ).get(host)

    def unchanged(self, host_vars):
        """A refused or rolled-back run was proven to leave ``host_vars`` applied."""
        self.applied = _effective(self, host_vars)


def _effective(fwlab, host_vars):
    """``host_vars`` with the role's defaults spelt out: equal when the runs apply the same."""
    effective = {}
    for host, variables in host_vars.items():
        merged = dict({"firewall_state": "present", "firewall_backend": "auto"}, **variables)
        if merged["firewall_backend"] == "auto" and host not in fwlab.firewalld:
            merged["firewall_backend"] = "nftables"
        if merged["firewall_state"] == "absent":
            merged = {"firewall_state": "absent"}
        effective[host] = merged
    return effective


@pytest.fixture(scope="module")
def fwlab(tmp_path_factory):
    topo = dict(TOPOLOGY, name=LAB_NAME)
    with lab.running(topo) as state:
        yield FirewallLab(state, tmp_path_factory.mktemp("fwlab"))


def _phase_vars(backend, firewalled):
    return {
        host: {"firewall_backend": backend} if host == firewalled else {"firewall_state": "absent"}
        for host in ("pc", "gw")
    }


def _phase(fwlab, backend, firewalled):
    fwlab.ensure(_phase_vars(backend, firewalled))
    return backend


@contextlib.contextmanager
def _firewalld_running(fwlab, host):
    """firewalld started on ``host`` (the image has it, stopped) and stopped again after."""
    fwlab.sh(host, "systemctl start firewalld && firewall-cmd --state")
    fwlab.firewalld.add(host)
    fwlab.forget(host)
    try:
        yield
    finally:
        fwlab.sh(host, "systemctl stop firewalld; rm -f /etc/firewalld/*/mpcpu*.xml", check=False)
        fwlab.firewalld.discard(host)
        fwlab.forget(host)


@pytest.fixture(scope="class", params=BACKENDS)
def host_mode(request, fwlab):
    return _phase(fwlab, request.param, "pc")


# iptables first: the router then moves nftables -> firewalld, as a host would (README).
@pytest.fixture(scope="class", params=["iptables", "nftables", "firewalld"])
def gateway_mode(request, fwlab):
    if request.param != "firewalld":
        yield _phase(fwlab, request.param, "gw")
        return
    with _firewalld_running(fwlab, "gw"):
        yield _phase(fwlab, "firewalld", "gw")


# --- the flows, each from the side that starts it -----------------------------------------------


def _tftp_transfer(fwlab, client, server, server_address, direction, *, seconds=15):
    """A whole TFTP transfer (put or get) of 300 kB; True when the bytes arrive intact.

    A working transfer takes well under a second in the lab: one expected to fail is given
    a few ``seconds`` only."""
    fwlab.sh(server, "mkdir -p /srv/fwt && chmod 777 /srv/fwt && rm -f /srv/fwt/*")
    fwlab.sh(server, "head -c 300000 /dev/urandom > /srv/fwt/served.bin")
    fwlab.sh(client, "head -c 300000 /dev/urandom > /tmp/fwt-sent.bin; rm -f /tmp/fwt-got.bin")
    fwlab.start(server, "tftpd", "in.tftpd -L -c -s /srv/fwt", port=TFTP)
    try:
        if direction == "put":
            command = "put /tmp/fwt-sent.bin sent.bin"
            source, target = (client, "/tmp/fwt-sent.bin"), (server, "/srv/fwt/sent.bin")
        else:
            command = "get served.bin /tmp/fwt-got.bin"
            source, target = (server, "/srv/fwt/served.bin"), (client, "/tmp/fwt-got.bin")
        fwlab.sh(
            client,
            "cd /tmp && timeout %d tftp -m binary %s -c %s" % (seconds, server_address, command),
            check=False,
        )
        sums = [
            fwlab.sh(host, "sha256sum %s 2>/dev/null || true" % (path,)).stdout.split()[:1]
            for host, path in (source, target)
        ]
        return sums[0] == sums[1]
    finally:
        fwlab.stop(server, "tftpd")


def _tcp_stream(fwlab, client, server, server_address, port):
    fwlab.start(
        server,
        "tcp%d" % port,
        "%s serve-tcp %d --log /run/fwt-tcp%d.log" % (PROBE, port, port),
        port=port,
        protocol="tcp",
    )
    try:
        return fwlab.probe(client, "tcp-ask", server_address, port)
    finally:
        fwlab.stop(server, "tcp%d" % port)


def _udp_answers(fwlab, client, server, server_address, port, *, sport=0, replies=1):
    fwlab.start(
        server,
        "udp%d" % port,
        "%s serve-udp %d --log /run/fwt-udp%d.log --replies %d" % (PROBE, port, port, replies),
        port=port,
    )
    try:
        return fwlab.probe(client, "udp-ask", server_address, port, "--sport", sport)
    finally:
        fwlab.stop(server, "udp%d" % port)


def _every_flow_passes(fwlab):
    assert _tftp_transfer(fwlab, "device", "pc", PC, "put"), "snapshot upload to the PC"
    assert _tftp_transfer(fwlab, "pc", "device", DEVICE, "get"), "calendar time from the MPCPU"
    assert _tftp_transfer(fwlab, "pc", "device", DEVICE, "put"), "firmware to the MPCPU"
    ntp = _udp_answers(fwlab, "device", "pc", PC, NTP, sport=NTP)
    assert [answer[1:] for answer in ntp] == [[PC, NTP]]
    assert _tcp_stream(fwlab, "device", "pc", PC, SMTP)["connected"]
    activity = _tcp_stream(fwlab, "pc", "device", DEVICE, ACTIVITY_LOG)
    assert activity["data"].count("line ") == 3, "the MPCPU streams back on the PC's connection"
    easy = _udp_answers(fwlab, "pc", "device", DEVICE, EASY_CPU, replies=2)
    assert len(easy) == 2 and all(answer[1] == DEVICE for answer in easy)


def _intruder_gets_nothing(fwlab):
    assert not _tftp_transfer(fwlab, "intruder", "pc", PC, "put", seconds=5)
    assert _udp_answers(fwlab, "intruder", "pc", PC, NTP, sport=NTP) == []
    assert not _tcp_stream(fwlab, "intruder", "pc", PC, SMTP)["connected"]


def _fake_answers_are_dropped(fwlab, sender):
    """Datagrams from an MPCPU port that answer nothing the PC asked are not let in."""
    fwlab.start(
        "pc",
        "fake",
        "%s serve-udp %d --log /run/fwt-fake.log" % (PROBE, UNANSWERED_PORT),
        port=UNANSWERED_PORT,
    )
    try:
        for sport in (EASY_CPU, TIME_TFTP, NTP):
            fwlab.probe(sender, "udp-ask", PC, UNANSWERED_PORT, "--sport", sport)
        assert fwlab.logged("pc", "fake") == []
    finally:
        fwlab.stop("pc", "fake")


def _tcp_reached(fwlab, source, target):
    """The TCP ports of ``target`` a SYN from ``source`` reached (open or closed)."""
    result = fwlab.probe(source, "scan-tcp", target, timeout=300)
    return sorted(result["open"] + result["closed"])


def _stop_listening(fwlab, target, stop):
    """End a listener once the sender is done, rather than at its deadline.

    Every datagram left the sender before it exited; a second covers the last ones still
    crossing the bridge on a busy machine (they take well under a millisecond here)."""
    fwlab.sh(target, "sleep 1; touch %s" % stop)


def _udp_received(fwlab, target, sender, address, sports):
    """The UDP ports of ``target`` that got a datagram when ``sender`` sent to every port."""
    out, ready, stop = "/run/fwt-udpall.json", "/run/fwt-udpall.ready", "/run/fwt-udpall.stop"
    fwlab.sh(target, "rm -f %s %s %s" % (out, ready, stop))
    fwlab.start(
        target,
        "udpall",
        "%s listen-udp-all --seconds %d --out %s --ready %s --stop %s"
        % (PROBE, 8 * len(sports), out, ready, stop),
    )
    fwlab.sh(target, "for i in $(seq 100); do [ -e %s ] && exit 0; sleep 0.1; done; exit 1" % ready)
    for sport in sports:
        fwlab.probe(sender, "send-udp-all", address, "--sport", sport)
    _stop_listening(fwlab, target, stop)
    fwlab.sh(target, "for i in $(seq 300); do [ -s %s ] && exit 0; sleep 0.2; done; exit 1" % out)
    result = json.loads(fwlab.sh(target, "cat %s" % out).stdout)
    # A local client's socket may hold an ephemeral port for a moment; anything else bound
    # would be a listener the scan cannot see past.
    listening = [port for port in result["unbindable"] if port < EPHEMERAL_PORTS[0]]
    assert listening == [], "something else listens: %s" % listening
    return sorted(int(port) for port in result["received"])


# --- IPv6 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ipv6(fwlab):
    """Global IPv6 on both networks, the router forwarding IPv6, the controller on the office.

    Returns the router's link-local address on the MPCPU network as the device names it."""
    for host, steps in IPV6_SETUP.items():
        for device, value in steps:
            if device == "route":
                fwlab.sh(host, "ip -6 route replace %s" % value)
            else:
                fwlab.sh(host, "ip -6 addr replace %s/64 dev %s nodad" % (value, device))
    net.in_netns(
        fwlab.state["hosts"]["gw"]["netns"], "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"
    )
    bridge = fwlab.state["bridges"]["office"]
    net.run("ip", "-6", "addr", "replace", CONTROLLER6 + "/64", "dev", bridge, "nodad")
    try:
        links = json.loads(fwlab.sh("gw", "ip -6 -json addr show dev eth1").stdout)
        local = [
            entry["local"]
            for link in links
            for entry in link.get("addr_info", [])
            if entry.get("local", "").startswith("fe80:")
        ]
        yield "%s%%eth0" % local[0]
    finally:
        net.run("ip", "-6", "addr", "del", CONTROLLER6 + "/64", "dev", bridge, check=False)


def _ssh_over_ipv6(fwlab, host, address):
    """A real SSH login from the controller to ``host`` at its IPv6 ``address``."""
    hosts = dict(fwlab.state["hosts"], **{host: dict(fwlab.state["hosts"][host], address=address)})
    result = subprocess.run(
        lab.ssh_argv(dict(fwlab.state, hosts=hosts), host, "echo logged-in"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() == "logged-in"


def _tcp_reached_in_parallel(fwlab, source, targets):
    """``_tcp_reached`` of several targets at once: a scan mostly waits for answers."""
    outputs = ["/run/fwt-scan%d.json" % index for index in range(len(targets))]
    command = " & ".join(
        "%s scan-tcp %s > %s" % (PROBE, target, out)
        for target, out in zip(targets, outputs, strict=True)
    )
    fwlab.sh(source, "%s; wait" % command, timeout=300)
    results = [json.loads(fwlab.sh(source, "cat %s" % out).stdout) for out in outputs]
    return [sorted(result["open"] + result["closed"]) for result in results]


def _connects(fwlab, source, address, port):
    """Whether a SYN from ``source`` gets an answer from a listener (a scan of one port)."""
    return fwlab.probe(source, "scan-tcp", address, "--ports", port)["open"] == [port]


def _udp6_received(fwlab, target, sender, addresses):
    """The UDP ports of ``target`` that got a datagram over IPv6 when ``sender`` sent to every
    port of each of its ``addresses``."""
    out, ready, stop = "/run/fwt-udp6.json", "/run/fwt-udp6.ready", "/run/fwt-udp6.stop"
    fwlab.sh(target, "rm -f %s %s %s" % (out, ready, stop))
    fwlab.start(
        target,
        "udp6",
        "%s listen-udp-all --ipv6 --seconds %d --out %s --ready %s --stop %s"
        % (PROBE, 6 * len(addresses), out, ready, stop),
    )
    fwlab.sh(target, "for i in $(seq 100); do [ -e %s ] && exit 0; sleep 0.1; done; exit 1" % ready)
    for address in addresses:
        fwlab.probe(sender, "send-udp-all", address)
    _stop_listening(fwlab, target, stop)
    fwlab.sh(target, "for i in $(seq 300); do [ -s %s ] && exit 0; sleep 0.2; done; exit 1" % out)
    result = json.loads(fwlab.sh(target, "cat %s" % out).stdout)
    listening = [port for port in result["unbindable"] if port < EPHEMERAL_PORTS[0]]
    assert listening == [], "something else listens on IPv6: %s" % listening
    return sorted(int(port) for port in result["received"])


def _neighbour_answered(fwlab, host, address):
    """Whether ``host`` resolved ``address`` (fe80::x%dev) by neighbour discovery."""
    target, _percent, device = address.partition("%")
    entry = fwlab.sh(host, "ip -6 neigh show %s dev %s" % (target, device)).stdout
    return "lladdr" in entry


# --- host mode: the PC's own firewall -----------------------------------------------------------


@pytest.mark.usefixtures("host_mode")
class TestHostMode:
    def test_every_flow_of_the_table_passes_in_its_direction(self, fwlab):
        _every_flow_passes(fwlab)

    def test_tftp_fails_without_the_conntrack_helper(self, fwlab, host_mode):
        strip = {
            "nftables": "sed 's/ ct helper set \"tftp\"//' /etc/megapower-mpcpu/firewall/mpcpu.nft"
            " > /run/fwt-nohelper && nft -f /run/fwt-nohelper",
            "iptables": "iptables -t raw -F mpcpu-prerouting && iptables -t raw -F mpcpu-output",
        }[host_mode]
        fwlab.sh("pc", strip)
        try:
            assert not _tftp_transfer(fwlab, "device", "pc", PC, "put", seconds=5)
            assert not _tftp_transfer(fwlab, "pc", "device", DEVICE, "get", seconds=5)
        finally:
            fwlab.sh("pc", "/usr/local/sbin/mpcpu-firewall load")
        assert _tftp_transfer(fwlab, "pc", "device", DEVICE, "get")

    def test_a_tcp_scan_from_the_mpcpu_reaches_only_smtp(self, fwlab):
        assert _tcp_reached(fwlab, "device", PC) == [SMTP]

    def test_udp_from_the_mpcpu_reaches_only_tftp_and_ntp_from_its_port(self, fwlab):
        received = _udp_received(fwlab, "pc", "device", PC, sports=[0, NTP])
        assert received == sorted([SNAPSHOT_TFTP, NTP])

    def test_answers_nobody_asked_for_are_dropped(self, fwlab):
        _fake_answers_are_dropped(fwlab, "device")

    def test_the_intruder_gets_none_of_the_mpcpu_flows(self, fwlab):
        _intruder_gets_nothing(fwlab)
        _fake_answers_are_dropped(fwlab, "intruder")
        assert _tcp_reached(fwlab, "intruder", PC) == []

    def test_without_a_router_firewall_ipv6_reaches_its_ssh_and_crosses_it(self, fwlab, ipv6):
        # What the issue found, and the control for the gateway-mode IPv6 tests: the
        # addresses, routes and probes work when nothing filters IPv6 on the router.
        assert _connects(fwlab, "device", ipv6, 22)
        assert _connects(fwlab, "device", GW6_ON_CCTV, 22)
        assert _connects(fwlab, "pc", DEVICE6, 22)

    def test_ssh_over_ipv6_from_the_management_side_still_logs_in(self, fwlab, ipv6):
        assert _ssh_over_ipv6(fwlab, "pc", PC6)

    def test_second_run_changes_nothing_and_check_mode_shows_the_diff(self, fwlab, host_mode):
        _second_run_and_check_mode(fwlab, _phase_vars(host_mode, "pc"), "pc", host_mode)

    def test_the_ruleset_comes_back_after_nftables_service_flushes_everything(self, fwlab):
        assert fwlab.sh("pc", "systemctl is-enabled mpcpu-firewall").stdout.strip() == "enabled"
        fwlab.sh("pc", "systemctl restart nftables")
        status = fwlab.sh("pc", "/usr/local/sbin/mpcpu-firewall status", check=False)
        assert status.returncode == 0, status.stdout
        assert "table inet filter" in fwlab.sh("pc", "nft list tables").stdout

    # Last in the class: the rollback puts back the phase the tests above ran on.
    def test_a_ruleset_that_locks_the_controller_out_rolls_back_by_itself(self, fwlab, host_mode):
        _locked_out_rolls_back(fwlab, host_mode)


# --- gateway mode: the router's forward chain ----------------------------------------------------


@pytest.mark.usefixtures("gateway_mode")
class TestGatewayMode:
    def test_every_flow_of_the_table_passes_through_the_router(self, fwlab):
        _every_flow_passes(fwlab)

    def test_dhcp_from_an_mpcpu_without_an_address_is_heard_and_answered(self, fwlab):
        fwlab.start(
            "device",
            "client",
            "%s serve-udp %d --log /run/fwt-client.log --replies 0" % (PROBE, DHCP_CLIENT),
            port=DHCP_CLIENT,
        )
        fwlab.start(
            "gw",
            "dhcp",
            "%s serve-udp %d --log /run/fwt-dhcp.log --offer-to %s:%d"
            % (PROBE, DHCP_SERVER, DEVICE, DHCP_CLIENT),
            port=DHCP_SERVER,
        )
        try:
            fwlab.probe("device", "dhcp-broadcast", "eth0", DHCP_CLIENT, DHCP_SERVER)
            fwlab.probe("intruder", "dhcp-broadcast", "eth0", DHCP_CLIENT, DHCP_SERVER)
            time.sleep(1)
            heard = [entry["peer"] for entry in fwlab.logged("gw", "dhcp")]
            assert heard == [["0.0.0.0", DHCP_CLIENT]], "only the MPCPU's broadcast is heard"
            offers = [entry["peer"] for entry in fwlab.logged("device", "client")]
            assert offers == [[GW_ON_CCTV, DHCP_SERVER]], "the offer reaches the MPCPU"
        finally:
            fwlab.stop("device", "client")
            fwlab.stop("gw", "dhcp")
        renewal = _udp_answers(fwlab, "device", "gw", GW_ON_CCTV, DHCP_SERVER, sport=DHCP_CLIENT)
        assert [answer[1:] for answer in renewal] == [[GW_ON_CCTV, DHCP_SERVER]]

    def test_a_tcp_scan_from_the_mpcpu_reaches_only_smtp_behind_the_router(self, fwlab):
        assert _tcp_reached(fwlab, "device", PC) == [SMTP]
        assert _tcp_reached(fwlab, "device", GW_ON_CCTV) == []

    def test_udp_from_the_mpcpu_reaches_only_the_named_ports(self, fwlab):
        assert _udp_received(fwlab, "pc", "device", PC, sports=[0, NTP]) == sorted(
            [SNAPSHOT_TFTP, NTP]
        )
        assert _udp_received(fwlab, "gw", "device", GW_ON_CCTV, sports=[0, DHCP_CLIENT]) == [
            DHCP_SERVER
        ]

    def test_answers_nobody_asked_for_are_dropped_at_the_router(self, fwlab):
        _fake_answers_are_dropped(fwlab, "device")

    def test_the_intruder_gets_none_of_the_mpcpu_flows_through_the_router(self, fwlab):
        _intruder_gets_nothing(fwlab)
        assert _tcp_reached(fwlab, "intruder", PC) == []

    def test_an_ipv6_tcp_scan_from_the_mpcpu_network_reaches_no_port(self, fwlab, ipv6):
        reached = _tcp_reached_in_parallel(fwlab, "device", [ipv6, GW6_ON_CCTV])
        assert reached == [[], []], "link-local, global"
        assert _neighbour_answered(fwlab, "device", ipv6), "the SYNs were sent to the router"
        passing = fwlab.probe("device", "scan-tcp", PC6, "--ports", FORWARD_PROBE_PORTS)
        assert passing["open"] + passing["closed"] == [], "nothing forwarded to the office"
        assert not _connects(fwlab, "pc", DEVICE6, 22), "nothing forwarded to the MPCPU network"

    def test_ipv6_udp_from_the_mpcpu_network_reaches_no_port(self, fwlab, ipv6):
        assert _udp6_received(fwlab, "gw", "device", [ipv6, GW6_ON_CCTV]) == []

    def test_ssh_over_ipv6_from_the_management_side_still_logs_in(self, fwlab, ipv6):
        assert _ssh_over_ipv6(fwlab, "gw", GW6_ON_OFFICE)
        assert _ssh_over_ipv6(fwlab, "pc", PC6)

    def test_firewalld_second_run_changes_nothing_and_check_mode_shows_the_diff(
        self, fwlab, gateway_mode
    ):
        if gateway_mode != "firewalld":
            pytest.skip("host mode proves it for %s" % gateway_mode)
        _second_run_and_check_mode(fwlab, _phase_vars("firewalld", "gw"), "gw", "firewalld")

    def test_a_controller_that_cannot_get_back_in_leaves_the_previous_firewalld_state(
        self, fwlab, gateway_mode
    ):
        if gateway_mode != "firewalld":
            pytest.skip("host mode proves it for %s" % gateway_mode)
        applied = _phase_vars("firewalld", "gw")
        before = _live_rules(fwlab, "firewalld", "gw")
        # A new ruleset (Alarm Email moved) the controller cannot confirm: it checks a port
        # where nothing listens, as if the new ruleset had cut it off.
        site = dict(_scenario_site(), port_overrides={"alarm_email": {"pc_port": MOVED_SMTP}})
        unconfirmed = {
            "mpcpu_site": site,
            "firewall_confirm_port": CLOSED_PORT,
            "firewall_confirm_timeout": 10,
        }
        fwlab.sh("gw", "rm -f %s/rolled-back" % STATE_DIR)
        started = time.monotonic()
        failed = fwlab.playbook(
            {"gw": dict(applied["gw"], **unconfirmed), "pc": dict(applied["pc"], mpcpu_site=site)},
            "--limit",
            "gw",
            check=False,
        )
        assert failed.returncode != 0
        assert "restores its previous ruleset by itself" in _flat(failed.stdout)
        _wait_for(fwlab, "gw", "test -e %s/rolled-back" % STATE_DIR, started, 10 + 45)
        assert _live_rules(fwlab, "firewalld", "gw") == before
        assert _in_effect(fwlab, "gw")
        # Seen from outside: Alarm Email crosses the router on its old port, not the new one.
        assert _tcp_stream(fwlab, "device", "pc", PC, SMTP)["connected"]
        assert not _tcp_stream(fwlab, "device", "pc", PC, MOVED_SMTP)["connected"]
        fwlab.unchanged(applied)


# --- applying safely (in the classes above: one phase applied, several things proven) --------

LOCKOUT_SITE = {
    "name": "molecule-firewall",
    "networks": [
        {"name": "cctv", "cidr": "198.51.100.64/27", "gateway": "198.51.100.65", "kind": "mpcpu"},
        {"name": "office", "cidr": "203.0.113.224/27", "gateway": "203.0.113.225", "kind": "pc"},
    ],
    # Not the controller: with input policy drop, this ruleset cuts the controller off.
    "management_networks": ["203.0.113.253/32"],
}
EXTRA_MPCPU = {"cpu-2": {"mpcpu_ip": "198.51.100.71", "mpcpu_mac": "02:00:00:64:00:71"}}
STATE_DIR = "/var/lib/megapower-mpcpu/firewall"  # firewall_state_dir
MOVED_SMTP = 2525  # where a rolled-back ruleset would have sent Alarm Email
CLOSED_PORT = 2222  # nothing listens there: the controller cannot confirm
PC_FILES = "find /etc/megapower-mpcpu/firewall -type f | sort | xargs sha256sum"


def _flat(text):
    """Output as one line: Ansible wraps long messages."""
    return " ".join(text.split())


def _changed(output, host):
    recap = re.search(r"^%s\s+:.*\bchanged=(\d+)" % host, output, flags=re.MULTILINE)
    return int(recap.group(1))


def _live_rules(fwlab, backend, host="pc"):
    command = {
        "nftables": "nft -s list table inet mpcpu",
        "iptables": "iptables -S; iptables -t raw -S; ip6tables -S",
        "firewalld": "firewall-cmd --info-zone=mpcpu; firewall-cmd --list-all-policies;"
        " for set in $(firewall-cmd --get-ipsets); do firewall-cmd --info-ipset=$set; done",
    }
    return fwlab.sh(host, command[backend]).stdout


def _in_effect(fwlab, host):
    return "in effect" in fwlab.sh(host, "/usr/local/sbin/mpcpu-firewall status").stdout


def _second_run_and_check_mode(fwlab, applied, host, backend):
    """The applied phase again changes nothing; check mode with one more MPCPU shows it in the
    diff and leaves the live rules as they were."""
    assert _changed(fwlab.playbook(applied).stdout, host) == 0
    extra_device = fwlab.workdir / "extra.yml"
    extra_device.write_text(
        yaml.safe_dump({"all": {"children": {"mpcpu": {"hosts": EXTRA_MPCPU}}}}), encoding="utf-8"
    )
    before = _live_rules(fwlab, backend, host)
    preview = fwlab.playbook(applied, "-i", str(extra_device), "--check", "--diff")
    added = [line for line in preview.stdout.splitlines() if line.startswith("+")]
    shown = _extra_mpcpu_shown(backend)
    assert any(shown in line for line in added), (shown, preview.stdout[-4000:])
    assert _live_rules(fwlab, backend, host) == before
    assert _in_effect(fwlab, host)


def _extra_mpcpu_shown(backend):
    """How the extra MPCPU's address shows in the ruleset: nftables lists each address in a
    set; iptables folds neighbouring addresses into one network (the device's and its own)."""
    extra = ipaddress.ip_network(EXTRA_MPCPU["cpu-2"]["mpcpu_ip"])
    if backend != "iptables":
        return str(extra.network_address)
    networks = ipaddress.collapse_addresses([ipaddress.ip_network(DEVICE), extra])
    return next(str(network) for network in networks if extra.subnet_of(network))


def _wait_for(fwlab, host, test, started, limit):
    """Poll ``test`` (a shell test on ``host``) until it holds; fail after ``limit`` s."""
    while fwlab.sh(host, test, timeout=10, check=False).returncode != 0:
        assert time.monotonic() - started < limit, "%s: still not %s" % (host, test)
        time.sleep(1)


def _locked_out_rolls_back(fwlab, backend):
    applied = _phase_vars(backend, "pc")
    before = _live_rules(fwlab, backend)
    timeout = 15
    started = time.monotonic()
    locked = fwlab.playbook(
        dict(
            applied,
            pc=dict(applied["pc"], mpcpu_site=LOCKOUT_SITE, firewall_confirm_timeout=timeout),
        ),
        "--limit",
        "pc",
        check=False,
    )
    assert locked.returncode != 0
    assert "restores its previous ruleset by itself" in _flat(locked.stdout)
    _wait_for(fwlab, "pc", "true", started, timeout + 45)
    assert _live_rules(fwlab, backend) == before
    assert _in_effect(fwlab, "pc")
    fwlab.unchanged(applied)


def test_bad_input_fails_before_anything_changes(fwlab):
    fwlab.ensure(ON_PC_ONLY)
    before = _live_rules(fwlab, "nftables") + fwlab.sh("pc", PC_FILES).stdout
    shadowing = dict(LOCKOUT_SITE, management_networks=["203.0.113.254/32"])
    shadowing["port_overrides"] = {"easy_cpu": {"mpcpu_port": TIME_TFTP}}
    failed = fwlab.playbook(
        {"pc": {"mpcpu_site": shadowing}, "gw": {}}, "--limit", "pc", check=False
    )
    assert failed.returncode != 0
    # The site model refuses the collision before the firewall policy would see it shadowed.
    assert "rows easy_cpu, time_firmware would all use UDP/%d on every MPCPU" % TIME_TFTP in _flat(
        failed.stdout
    )
    assert _live_rules(fwlab, "nftables") + fwlab.sh("pc", PC_FILES).stdout == before
    assert _in_effect(fwlab, "pc")
    fwlab.unchanged(ON_PC_ONLY)


def test_firewalld_accepts_the_rendered_zone_policy_and_services(fwlab):
    export = fwlab.workdir / "export"
    options = {"firewall_export_dir": str(export)}
    fwlab.playbook({"pc": options, "gw": options}, "--check")
    assert (export / "site-router-acl.ios").read_text().startswith("! MPCPU router ACLs")
    for host in ("pc", "gw"):
        archive = subprocess.run(
            ["tar", "-C", str(export / host / "firewalld"), "-cf", "-", "."],
            capture_output=True,
            check=True,
        ).stdout
        old = " ".join("/etc/firewalld/%s/mpcpu*" % kind for kind in FIREWALLD_KINDS)
        command = (
            "rm -rf %s && tar -C /etc/firewalld -xf - && firewall-offline-cmd --check-config"
            " && firewall-offline-cmd --info-zone=mpcpu" % old
        )
        result = subprocess.run(
            lab.ssh_argv(fwlab.state, "intruder", command),
            input=archive,
            capture_output=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert b"sources: ipset:mpcpu-networks" in result.stdout


# --- beside another firewall on the host --------------------------------------------------------

# An ordinary company baseline: its own table, input policy drop, SSH and ping allowed.
BASELINE_CONF = """#!/usr/sbin/nft -f
flush ruleset
table inet baseline {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\ttcp dport 22 accept
\t\tmeta l4proto { icmp, ipv6-icmp } accept
\t}
}
"""
ON_PC_ONLY = {"pc": {}, "gw": {"firewall_state": "absent"}}
ADJUSTING = {"pc": {"firewall_foreign_rulesets": "adjust"}, "gw": {"firewall_state": "absent"}}
PC_STATE = "sha256sum /etc/megapower-mpcpu/firewall/*; nft -s list table inet mpcpu"


def _flows_the_mpcpu_starts_pass(fwlab):
    assert _tftp_transfer(fwlab, "device", "pc", PC, "put"), "snapshot upload to the PC"
    assert [a[1:] for a in _udp_answers(fwlab, "device", "pc", PC, NTP, sport=NTP)] == [[PC, NTP]]
    assert _tcp_stream(fwlab, "device", "pc", PC, SMTP)["connected"]


@pytest.fixture(scope="class")
def baseline_on_pc(fwlab):
    """The baseline as /etc/nftables.conf, enabled at boot and loaded, beside our table."""
    fwlab.ensure(ON_PC_ONLY)
    fwlab.sh(
        "pc",
        "cat > /etc/nftables.conf <<'EOF'\n%sEOF\nsystemctl enable --quiet nftables"
        " && systemctl restart nftables" % BASELINE_CONF,
    )
    try:
        yield
    finally:
        fwlab.sh(
            "pc",
            "systemctl disable --quiet nftables; printf 'flush ruleset\\n' > /etc/nftables.conf;"
            " nft delete table inet baseline",
            check=False,
        )
        fwlab.forget("pc")


@pytest.mark.usefixtures("baseline_on_pc")
class TestBesideABaseline:
    # First: it needs our table loaded as it was before the baseline, without adjustments.
    def test_a_baseline_that_drops_the_flows_is_refused_before_anything_changes(self, fwlab):
        # What the issue saw: our table loaded, the baseline's policy drop kills the flows.
        assert not _tcp_stream(fwlab, "device", "pc", PC, SMTP)["connected"]
        before = fwlab.sh("pc", PC_STATE).stdout
        refused = fwlab.playbook(ON_PC_ONLY, check=False)
        assert refused.returncode != 0
        output = _flat(refused.stdout)
        assert "3 flow(s) another firewall on pc would drop" in output
        for flow in ("Snapshot (udp to port 69", "NTP (udp from port 123", "Alarm Email (tcp"):
            assert flow in output
        assert (
            "dropped by table inet baseline, base chain input (nftables), its policy drop" in output
        )
        assert fwlab.sh("pc", PC_STATE).stdout == before
        fwlab.unchanged(ON_PC_ONLY)

    def test_adjust_lets_exactly_the_flows_through_the_baseline_and_across_a_reboot(self, fwlab):
        first = fwlab.playbook(ADJUSTING)
        assert "adjusting another firewall for these flows" in _flat(first.stdout)
        assert _changed(fwlab.playbook(ADJUSTING).stdout, "pc") == 0
        _every_flow_passes(fwlab)
        _intruder_gets_nothing(fwlab)
        lab.reboot(fwlab.state, "pc")
        chain = fwlab.sh("pc", "nft list chain inet baseline input").stdout
        assert "jump mpcpu_adjust_input" in chain, "the adjustment is back after the baseline loads"
        assert _in_effect(fwlab, "pc")
        # The flows the baseline would drop; the others and the intruder were proven before.
        _flows_the_mpcpu_starts_pass(fwlab)


def _install_ufw(fwlab, workdir):
    """ufw and what it needs beyond the image, fetched on the machine, installed in pc only."""
    subprocess.run(
        ["apt-get", "download", "-q", "ufw", "ucf"],
        cwd=workdir,
        capture_output=True,
        check=True,
        timeout=300,
    )
    for deb in sorted(workdir.glob("*.deb")):
        subprocess.run(
            lab.ssh_argv(fwlab.state, "pc", "cat > /tmp/%s" % deb.name),
            stdin=deb.open("rb"),
            check=True,
            timeout=60,
        )
    fwlab.sh("pc", "DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/ucf_*.deb /tmp/ufw_*.deb")


def test_ufw_that_drops_the_flows_is_refused_with_the_way_out(fwlab, tmp_path):
    fwlab.ensure(ON_PC_ONLY)
    _install_ufw(fwlab, tmp_path)
    fwlab.sh("pc", "ufw allow 22/tcp && ufw --force enable")
    try:
        before = fwlab.sh("pc", PC_STATE).stdout
        refused = fwlab.playbook(ADJUSTING, check=False)
        assert refused.returncode != 0
        output = _flat(refused.stdout)
        assert "dropped by table ip filter, base chain INPUT (ufw), its policy drop" in output
        assert "ufw allow" in output, "adjust never edits ufw's chains: it says what to do"
        assert fwlab.sh("pc", PC_STATE).stdout == before
        # Done the way the refusal says, the role applies and the flows pass through ufw.
        for port, protocol in ((SNAPSHOT_TFTP, "udp"), (NTP, "udp"), (SMTP, "tcp")):
            fwlab.sh("pc", "ufw allow from %s to any port %d proto %s" % (DEVICE, port, protocol))
        fwlab.playbook(ADJUSTING)
        _flows_the_mpcpu_starts_pass(fwlab)
    finally:
        fwlab.sh("pc", "ufw --force reset && ufw --force disable", check=False)
        fwlab.forget("pc")


@pytest.fixture
def firewalld_on_pc(fwlab):
    with _firewalld_running(fwlab, "pc"):
        yield


@pytest.mark.usefixtures("firewalld_on_pc")
def test_auto_applies_through_a_running_firewalld_and_the_flows_pass(fwlab):
    first = fwlab.playbook(ON_PC_ONLY)
    assert "pc: firewall backend firewalld (firewall_backend: auto, firewalld is active)" in (
        _flat(first.stdout)
    )
    zone = fwlab.sh("pc", "firewall-cmd --info-zone=mpcpu").stdout
    assert "sources: ipset:mpcpu-networks" in zone
    assert "table inet mpcpu" not in fwlab.sh("pc", "nft list tables").stdout
    assert _changed(fwlab.playbook(ON_PC_ONLY).stdout, "pc") == 0
    _every_flow_passes(fwlab)
    _intruder_gets_nothing(fwlab)
    assert _tcp_reached(fwlab, "device", PC) == [SMTP]


# --- a flat site: one network shared by the MPCPU, the server and every LAN client ------------
#
# The same booted lab, another inventory: the MPCPU network is declared kind shared, ``gw``
# (198.51.100.65 on it) plays every PC part as the site's only server and ``intruder`` is an
# ordinary LAN client. The server's table matches the MPCPU by address: the client keeps its
# DNS-like UDP, ping and TCP service over IPv4 and IPv6, while the MPCPU gets the Appendix D
# flows and nothing else.

LAN_CLIENT6 = CCTV6 + "80"
LAN_UDP, LAN_TCP = 53, 445  # what a LAN server offers its clients: DNS, SMB
FLAT_SITE = {
    "name": "molecule-flat",
    "networks": [
        {"name": "lan", "cidr": "198.51.100.64/27", "gateway": "198.51.100.65", "kind": "shared"}
    ],
    # The whole LAN manages, as a flat site's management network often is.
    "management_networks": ["198.51.100.64/27", "203.0.113.254/32", "2001:db8:b::fe/128"],
}


def _flat_inventory(path):
    children = {
        part: {"hosts": {"gw": {"mpcpu_service_ip": GW_ON_CCTV}}} for part in appendix_d.PC_PARTS
    }
    children["mpcpu"] = {"hosts": {"cpu-1": {"mpcpu_ip": DEVICE, "mpcpu_mac": "02:00:00:64:00:70"}}}
    children["lab_clients"] = {"hosts": {"device": {}, "intruder": {}, "pc": {}}}
    settings = {
        "mpcpu_site": FLAT_SITE,
        "firewall_install_packages": False,
        "firewall_confirm_timeout": 30,
    }
    path.write_text(
        yaml.safe_dump({"all": {"vars": settings, "children": children}}), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="class")
def flat_site(fwlab, ipv6):
    # The flat inventory's converge runs on gw alone (pc is a lab client there): it starts from
    # a router without our firewall.
    if not fwlab.holds("gw", {"firewall_state": "absent"}):
        fwlab.playbook({"pc": {"firewall_state": "absent"}, "gw": {"firewall_state": "absent"}})
    fwlab.applied = None  # another inventory from here on
    inventory = _flat_inventory(fwlab.workdir / "flat.yml")
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            lab.inventory_path(fwlab.state["name"]),
            "-i",
            str(inventory),
            str(SCENARIO / "converge.yml"),
        ],
        cwd=ROOT,
        env=ansible_cli.environment(ANSIBLE_FORCE_COLOR="0"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    fwlab.sh("intruder", "ip -6 addr replace %s/64 dev eth0 nodad" % LAN_CLIENT6)
    try:
        yield
    finally:
        fwlab.sh("intruder", "ip -6 addr del %s/64 dev eth0" % LAN_CLIENT6, check=False)


def _lan_services(fwlab):
    """A DNS-like UDP service and a TCP service on the server, over IPv4 and IPv6."""
    fwlab.start(
        "gw",
        "lanudp",
        "%s serve-udp %d --dual --log /run/fwt-lanudp.log" % (PROBE, LAN_UDP),
        port=LAN_UDP,
    )
    fwlab.start(
        "gw",
        "lantcp",
        "%s serve-tcp %d --dual --log /run/fwt-lantcp.log" % (PROBE, LAN_TCP),
        port=LAN_TCP,
        protocol="tcp",
    )


def _lan_reach(fwlab, client, address):
    """(UDP answered, TCP connected, ping answered) from ``client`` to the server's ``address``."""
    udp = fwlab.probe(client, "udp-ask", address, LAN_UDP)
    tcp = fwlab.probe(client, "tcp-ask", address, LAN_TCP)["connected"]
    ping = fwlab.sh(client, "ping -c 1 -W 2 %s" % address, check=False).returncode == 0
    return bool(udp), tcp, ping


@pytest.mark.usefixtures("flat_site")
class TestFlatSite:
    def test_the_lan_client_keeps_udp_tcp_and_ping_to_the_server_over_ipv4_and_ipv6(self, fwlab):
        _lan_services(fwlab)
        try:
            assert _lan_reach(fwlab, "intruder", GW_ON_CCTV) == (True, True, True)
            assert _lan_reach(fwlab, "intruder", GW6_ON_CCTV) == (True, True, True)
        finally:
            fwlab.stop("gw", "lanudp")
            fwlab.stop("gw", "lantcp")

    def test_the_mpcpu_gets_the_appendix_d_flows_with_the_server(self, fwlab):
        assert _tftp_transfer(fwlab, "device", "gw", GW_ON_CCTV, "put"), "snapshot upload"
        assert _tftp_transfer(fwlab, "gw", "device", DEVICE, "get"), "calendar time"
        ntp = _udp_answers(fwlab, "device", "gw", GW_ON_CCTV, NTP, sport=NTP)
        assert [answer[1:] for answer in ntp] == [[GW_ON_CCTV, NTP]]
        assert _tcp_stream(fwlab, "device", "gw", GW_ON_CCTV, SMTP)["connected"]
        activity = _tcp_stream(fwlab, "gw", "device", DEVICE, ACTIVITY_LOG)
        assert activity["data"].count("line ") == 3
        easy = _udp_answers(fwlab, "gw", "device", DEVICE, EASY_CPU, replies=2)
        assert len(easy) == 2

    def test_what_the_table_does_not_name_is_dropped_from_the_mpcpu_alone(self, fwlab):
        _lan_services(fwlab)
        try:
            assert _lan_reach(fwlab, "device", GW_ON_CCTV)[:2] == (False, False)
            assert _lan_reach(fwlab, "intruder", GW_ON_CCTV)[:2] == (True, True), "control"
            assert _tcp_reached(fwlab, "device", GW_ON_CCTV) == [SMTP]
        finally:
            fwlab.stop("gw", "lanudp")
            fwlab.stop("gw", "lantcp")


# --- an extra flow: VRRP-style advertisements between two routers on the MPCPU network --------
#
# The firewall scenario again (the MPCPU network dedicated, gw firewalled with input policy
# drop), plus mpcpu_site.extra_flows: VRRP from 198.51.100.80 (intruder, standing for the
# redundant peer router) to gw. Its advertisements (IP protocol 112, to gw and to 224.0.0.18)
# reach gw; the same packets from the MPCPU's address, which the flow does not name, do not.

VRRP = 112
VRRP_GROUP = "224.0.0.18"


def _scenario_site():
    with (SCENARIO / "inventory" / "group_vars" / "all.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["mpcpu_site"]


def _vrrp_received(fwlab, senders):
    """The sources gw received protocol-112 packets from while each sender sent some."""
    out, ready = "/run/fwt-vrrp.json", "/run/fwt-vrrp.ready"
    fwlab.sh("gw", "rm -f %s %s" % (out, ready))
    fwlab.start(
        "gw",
        "vrrp",
        "%s listen-protocol %d --seconds 4 --out %s --ready %s --group %s --interface-address %s"
        % (PROBE, VRRP, out, ready, VRRP_GROUP, GW_ON_CCTV),
    )
    fwlab.sh("gw", "for i in $(seq 100); do [ -e %s ] && exit 0; sleep 0.1; done; exit 1" % ready)
    for sender in senders:
        for target in (GW_ON_CCTV, VRRP_GROUP):
            fwlab.probe(sender, "send-protocol", target, VRRP)
    fwlab.sh("gw", "for i in $(seq 100); do [ -s %s ] && exit 0; sleep 0.1; done; exit 1" % out)
    return sorted(set(json.loads(fwlab.sh("gw", "cat %s" % out).stdout)))


def test_a_vrrp_extra_flow_passes_between_the_routers_and_nothing_else_of_protocol_112(fwlab):
    site = dict(_scenario_site())
    site["extra_flows"] = [
        {"name": "vrrp", "protocol": "vrrp", "from": INTRUDER, "to": "gw"},
    ]
    fwlab.playbook(
        {
            "gw": {"mpcpu_site": site, "firewall_state": "present"},
            "pc": {"mpcpu_site": site, "firewall_state": "absent"},
        }
    )
    try:
        assert _vrrp_received(fwlab, ["intruder", "device"]) == [INTRUDER]
    finally:
        fwlab.stop("gw", "vrrp")
