"""The machine-side plumbing of a lab: bridges, veth links and network namespaces.

Nothing else is changed on the machine: no route, no sysctl, no firewall rule outside the
namespaces the lab creates.
"""

import ipaddress
import subprocess

from mpcpu_lab import paths


def run(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def in_netns(netns, *argv, check=True):
    return run("ip", "netns", "exec", netns, *argv, check=check)


def bridge_name(lab, index):
    return "%s%sb%d" % (paths.PREFIX, lab, index)


def veth_name(lab, host_index, link_index):
    return "%s%sh%dl%d" % (paths.PREFIX, lab, host_index, link_index)


def netns_name(lab, host):
    return "%s-%s-%s" % (paths.PREFIX, lab, host)


def add_bridge(name, cidr, controller):
    prefix = ipaddress.ip_network(cidr).prefixlen
    run("ip", "link", "add", name, "type", "bridge")
    run("ip", "addr", "add", "%s/%d" % (controller, prefix), "dev", name)
    run("ip", "link", "set", name, "up")


def add_netns(netns, forwarding):
    run("ip", "netns", "add", netns)
    in_netns(netns, "ip", "link", "set", "lo", "up")
    if forwarding:
        in_netns(netns, "sysctl", "-qw", "net.ipv4.ip_forward=1")


def add_link(netns, veth, bridge, index, link):
    """A veth from the bridge into the namespace, where it is called eth<index>."""
    inside = "eth%d" % index
    temporary = veth + "p"
    run("ip", "link", "add", veth, "type", "veth", "peer", "name", temporary)
    run("ip", "link", "set", temporary, "netns", netns)
    in_netns(netns, "ip", "link", "set", temporary, "name", inside)
    if link["mac"]:
        in_netns(netns, "ip", "link", "set", inside, "address", link["mac"])
    for address in link["addresses"]:
        in_netns(netns, "ip", "addr", "add", address, "dev", inside)
    in_netns(netns, "ip", "link", "set", inside, "up")
    if link["gateway"]:
        in_netns(netns, "ip", "route", "add", "default", "via", link["gateway"])
    run("ip", "link", "set", veth, "master", bridge, "up")


def delete_netns(netns):
    run("ip", "netns", "del", netns, check=False)


def delete_link(name):
    run("ip", "link", "del", name, check=False)


def lab_links():
    """Names of every link on the machine that a lab made."""
    output = run("ip", "-o", "link", "show").stdout
    names = []
    for line in output.splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0]
        if name.startswith(paths.PREFIX):
            names.append(name)
    return names


def lab_netns():
    output = run("ip", "netns", "list").stdout
    names = [line.split()[0] for line in output.splitlines() if line.strip()]
    return [name for name in names if name.startswith(paths.PREFIX + "-")]


def bridge_networks():
    """CIDRs already on lab bridges, so two labs never share a subnet."""
    output = run("ip", "-o", "-4", "addr", "show").stdout
    networks = {}
    for line in output.splitlines():
        words = line.split()
        if words[1].startswith(paths.PREFIX):
            networks[words[1]] = ipaddress.ip_interface(words[3]).network
    return networks
