# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the DHCP, NTP and SMTP server roles need from the compiled site model.

Controller side only (uses netaddr). The model is checked once, when it is built; what a host
plays comes from its view (``model["hosts"]``, see ``site_model.host_view``). Each server part
has two kinds of function:

- ``*_errors(...)`` lists what the site model cannot know (whether the role runs on a host of
  its part, the host's own interfaces), one message per problem in the collection's
  ``where: field: message`` form, so a role can refuse bad input before it changes anything.
  The roles' options have one home, ``role_options``, which checks them the same way whether
  the inventory sets them or a play hands them over; the ``*_errors`` that still take options
  check them there;
- the settings and configuration builders, each taking ``(model, host)`` and reading that
  host's view, which assume a model and options that passed the checks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils._netaddr import netaddr
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import problem
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.role_options import (
    lease_lifetime_problem,
    ntp_option_errors,
    smtp_option_errors,
)

DHCP_ROW = appendix_d.row_of_role("dhcp").id
NTP_ROW = appendix_d.row_of_role("ntp").id
SMTP_ROW = appendix_d.row_of_role("smtp").id
DHCP_PART = appendix_d.row(DHCP_ROW).pc_part
NTP_PART = appendix_d.row(NTP_ROW).pc_part
SMTP_PART = appendix_d.row(SMTP_ROW).pc_part

CAPABILITY_BOUNDING_SET = re.compile(r"^CapBnd:\s*([0-9a-fA-F]+)$", re.MULTILINE)
LOOPBACK = ("127.0.0.0/8", "[::1]/128")
KEA_LOGGER = "kea-dhcp4"
# Kea's built-in class: a packet that falls into it is dropped without an answer.
KEA_DROP_CLASS = "DROP"
KEA_MPCPU_CLASS = "MPCPU"


def _view(site, host):
    """``host``'s view of the model; a host the site lacks plays nothing (an empty view)."""
    return site_model.host_view(site, host, missing_ok=True)


def _placement_errors(site, host, part):
    """A server role runs on a host of its part.

    The model knows who plays each part; which host a play runs the role on, it cannot know.
    """
    if part not in _view(site, host)["parts"]:
        return [problem(host, "groups", "is not in %s" % part)]
    return []


def _played_row(view, row_id):
    """The row as the host plays it, with the ports the site programs."""
    for row in view["rows"]:
        if row["id"] == row_id:
            return row
    raise ValueError("%s does not play row %s of the site" % (view["name"], row_id))


def _row_flows(view, row_id):
    return [flow for flow in view["flows"] if flow["row"] == row_id]


def _shared_mpcpus(site):
    """The MPCPUs on networks of kind shared, each alone: the rest of such a network is not
    theirs to be served."""
    shared = set(n["name"] for n in site["networks"] if n["kind"] == "shared")
    return ["%s/32" % device["ip"] for device in site["mpcpus"] if device["network"] in shared]


# --- the host's own addresses ------------------------------------------------------------


def interface_addresses(ip_addresses):
    """Every IPv4 address of a host, from the JSON of ``ip -json address show``.

    Returns ``[{"device", "address"}]``. Read from the kernel rather than from Ansible's
    network facts, which list the interfaces of /sys/class/net: in a container that sysfs may
    belong to another network namespace (it does in the lab's nspawn hosts).
    """
    addresses = []
    for link in ip_addresses:
        for entry in link.get("addr_info") or []:
            if entry.get("family") != "inet":
                continue
            addresses.append({"device": link["ifname"], "address": entry["local"]})
    return sorted(addresses, key=lambda item: (item["device"], netaddr.IPAddress(item["address"])))


# --- DHCP (Kea) ----------------------------------------------------------------------------


def _dhcp_view(site, host):
    """The view of DHCP server ``host``; with no host, that of the site's first DHCP server
    (every DHCP server of a site serves the same MPCPUs: one flow to each)."""
    if host is None:
        host = next((server["name"] for server in site["parts"].get(DHCP_PART, ())), None)
    return _view(site, host)


def _dhcp_networks(site, host):
    """Each network the DHCP server serves, with its MPCPUs: the MPCPU ends of the DHCP flows
    of the host's view, grouped by network, in the site's order of networks."""
    view = _dhcp_view(site, host)
    mpcpus = {}
    for flow in _row_flows(view, DHCP_ROW):
        device = {"name": flow["mpcpu"], "ip": flow["mpcpu_ip"], "mac": flow["mpcpu_mac"]}
        mpcpus.setdefault(flow["mpcpu_network"], []).append(device)
    return [
        (network, mpcpus[network["name"]])
        for network in site["networks"]
        if network["name"] in mpcpus
    ]


def _attached(network, addresses):
    """The host's addresses in ``network`` (a host fact, read from its interfaces)."""
    cidr = netaddr.IPNetwork(network["cidr"])
    return [item for item in addresses if netaddr.IPAddress(item["address"]) in cidr]


def _dhcp_address_errors(host, served):
    """No reservation may hand out an address this server already carries."""
    errors = []
    for _network, mpcpus, attached in served:
        own = dict((item["address"], item["device"]) for item in attached)
        for device in mpcpus:
            if device["ip"] in own:
                errors.append(
                    problem(
                        device["name"],
                        "mpcpu_ip",
                        "%s is the address of DHCP server %s on %s"
                        % (device["ip"], host, own[device["ip"]]),
                    )
                )
    return errors


def dhcp_server_errors(site, host, addresses, valid_lifetime=86400):
    """Why ``host`` (with ``interface_addresses``) cannot serve the site's reservations."""
    errors = _placement_errors(site, host, DHCP_PART)
    if errors:
        return errors
    lifetime_problem = lease_lifetime_problem(valid_lifetime)
    if lifetime_problem:
        errors.append(problem(host, "dhcp_valid_lifetime", lifetime_problem))
    served = [
        (network, mpcpus, _attached(network, addresses))
        for network, mpcpus in _dhcp_networks(site, host)
    ]
    if not any(attached for _network, _mpcpus, attached in served):
        wanted = ", ".join("%s %s" % (net["name"], net["cidr"]) for net, _m, _a in served)
        errors.append(
            problem(
                host,
                "interfaces",
                "no address in an MPCPU network (%s): a DHCP server answers the broadcasts of "
                "the networks it is attached to" % (wanted or "none has MPCPUs"),
            )
        )
    return errors + _dhcp_address_errors(host, served)


def _dhcp_options(site, network):
    options = []
    if network["gateway"]:
        options.append({"name": "routers", "data": network["gateway"]})
    ntp_servers = [server["ip"] for server in site["parts"].get(NTP_PART, ())]
    if ntp_servers:
        options.append({"name": "ntp-servers", "data": ", ".join(ntp_servers)})
    return options


def _subnet(site, network, mpcpus):
    return {
        # Leases are stored with their subnet id: derive it from the network itself so that
        # adding or reordering networks never hands a stored lease to another subnet.
        "id": int(netaddr.IPNetwork(network["cidr"]).network),
        "subnet": network["cidr"],
        "option-data": _dhcp_options(site, network),
        "reservations": [_reservation(device, _hostnames(site)) for device in mpcpus],
    }


def _hostnames(site):
    return dict((device["name"], device.get("hostname")) for device in site["mpcpus"])


def _reservation(device, hostnames):
    hostname = hostnames.get(device["name"])
    reservation = {
        "hw-address": device["mac"],
        "ip-address": device["ip"],
        "user-context": {"mpcpu": device["name"]},
    }
    if hostname:
        # EASY CPU shows each CPU's DHCP host name: send option 12 whether asked for or not.
        reservation["hostname"] = hostname
        reservation["option-data"] = [{"name": "host-name", "data": hostname, "always-send": True}]
    return reservation


def _kea_mpcpu_test(mpcpus):
    """A Kea expression true for a packet only an MPCPU of ``mpcpus`` may send.

    Its MAC (chaddr) must be one the site reserved, and the address it claims (ciaddr) and
    sends from (the IP source) must be unset or that MPCPU's own reserved address. Kea reads
    every packet through a raw socket, ahead of netfilter, so this is where the filtering
    happens.
    """
    terms = []
    for device in sorted(mpcpus, key=lambda item: item["mac"]):
        ip = device["ip"]
        terms.append(
            "(pkt4.mac == 0x%s and (pkt4.ciaddr == 0.0.0.0 or pkt4.ciaddr == %s)"
            " and (pkt.src == 0.0.0.0 or pkt.src == %s))"
            % (device["mac"].replace(":", "").lower(), ip, ip)
        )
    return " or ".join(terms) or "false"


def _kea_client_classes(mpcpus):
    """MPCPU: what a reserved MPCPU sends; DROP (Kea's own): everything else, unanswered.

    The DROP test is evaluated before host reservations are looked up, so it may not use
    Kea's KNOWN class (Kea 2.2); it reads the reservations from the site model instead.
    """
    return [
        {"name": KEA_MPCPU_CLASS, "test": _kea_mpcpu_test(mpcpus)},
        {"name": KEA_DROP_CLASS, "test": "not member('%s')" % KEA_MPCPU_CLASS},
    ]


def kea_dhcp4_config(
    site,
    host,
    addresses=None,
    *,
    lease_file,
    lease_cleanup_interval=3600,
    valid_lifetime=86400,
    authoritative=True,
):
    """The Kea DHCPv4 configuration (a dict for JSON) of DHCP server ``host``, whose
    interfaces carry ``addresses``. ``(site, addresses, ...)`` without the host still works.

    Reservations only: a subnet without pools hands out reserved addresses only. Kea drops,
    unanswered, every packet that is not from a reserved MPCPU's MAC and address (client
    class DROP), so an unknown MAC, or an INFORM or REQUEST from another address, gets
    nothing at all. Kea listens on the interfaces attached to the MPCPU networks and nowhere
    else.
    """
    if addresses is None and not isinstance(host, str):
        host, addresses = None, host
    subnets = []
    devices = set()
    served = []
    for network, mpcpus in _dhcp_networks(site, host):
        attached = _attached(network, addresses)
        if attached:
            devices.update(item["device"] for item in attached)
            subnets.append(_subnet(site, network, mpcpus))
            served.extend(mpcpus)
    return {
        "Dhcp4": {
            "interfaces-config": {"interfaces": sorted(devices), "dhcp-socket-type": "raw"},
            "lease-database": {
                "type": "memfile",
                "persist": True,
                "name": lease_file,
                "lfc-interval": lease_cleanup_interval,
            },
            "authoritative": authoritative,
            "client-classes": _kea_client_classes(served),
            "reservations-global": False,
            "reservations-in-subnet": True,
            "reservations-out-of-pool": True,
            "valid-lifetime": valid_lifetime,
            "subnet4": subnets,
            "loggers": [
                {"name": KEA_LOGGER, "output_options": [{"output": "stdout"}], "severity": "INFO"}
            ],
        }
    }


# --- NTP (chrony) -----------------------------------------------------------------------------


def ntp_server_errors(site, host, upstream_servers=(), local_stratum=10):
    """Why ``host`` cannot serve time to the site's MPCPUs with these options."""
    return _placement_errors(site, host, NTP_PART) + ntp_option_errors(
        host, upstream_servers, local_stratum
    )


def holds_capability(proc_status, capability):
    """Whether a process holds ``capability`` (a number) in its bounding set.

    ``proc_status`` is the text of ``/proc/<pid>/status``; systemd's ``ConditionCapability=``
    tests the bounding set of PID 1 the same way.
    """
    match = CAPABILITY_BOUNDING_SET.search(proc_status)
    if match is None:
        raise ValueError("no CapBnd line in the process status")
    return bool(int(match.group(1), 16) >> capability & 1)


def chrony_server_settings(site, host):
    """What chrony on NTP server ``host`` serves: every MPCPU network of the site (the role's
    documented contract, a network with no MPCPU yet included), the MPCPUs alone on shared
    networks, nothing else; on the NTP port of the row as the host plays it."""
    return {
        "allow": [network["cidr"] for network in site["networks"] if network["kind"] == "mpcpu"]
        + _shared_mpcpus(site),
        "port": _played_row(_view(site, host), NTP_ROW)["pc_port"],
    }


# --- SMTP (postfix) ---------------------------------------------------------------------------


def smtp_relay_errors(site, host, relayhost="", message_size_limit=10240000):
    """Why ``host`` cannot be the site's alarm relay with these options."""
    return _placement_errors(site, host, SMTP_PART) + smtp_option_errors(
        host, relayhost, message_size_limit
    )


def postfix_relay_settings(site, host):
    """Who may send through alarm relay ``host`` (loopback and the address of each MPCPU it
    serves, nothing else) and its SMTP port, from the host's view."""
    view = _view(site, host)
    senders = set(flow["mpcpu_ip"] for flow in _row_flows(view, SMTP_ROW))
    return {
        "mynetworks": list(LOOPBACK)
        + ["%s/32" % ip for ip in sorted(senders, key=netaddr.IPAddress)],
        "port": _played_row(view, SMTP_ROW)["pc_port"],
    }
