# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change bundle: everything a site would get, rendered from the model, for review.

No host is contacted. Firewall files are exactly what the firewall role loads; service
settings are what the model fixes (an interface name, which a host's facts decide, is written
as the address that interface must carry). Same model in, byte-identical files out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import reports, services
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (
    appliance,
    cisco_ios,
    policy,
    targets,
)

HOST_TARGETS = ("nftables", "iptables", "firewalld")
ROUTER_TARGETS = HOST_TARGETS + ("cisco_ios",)  # an IOS ACL is a router's, not a server's
APPLIANCE_TARGETS = appliance.TARGETS  # rendered by Aerleon for the site boundary
DHCP_PART = services.DHCP_PART
NTP_PART = services.NTP_PART
SMTP_PART = services.SMTP_PART
MPCPU_KIND = appendix_d.DEVICE_GROUP
# The dhcp role's default dhcp_lease_file (roles/dhcp/defaults/main.yml) says it again.
KEA_LEASE_FILE = "/var/lib/kea/kea-leases4.csv"
SITE_ROUTER_ACL = "firewall/site-router-acl.ios"
SITE_ROUTER_NOTE = "firewall/site-router-acl.md"
NO_CROSSING_NOTE = cisco_ios.NOTHING_CROSSES


def _json(data):
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def managed_hosts(model):
    """Every host a firewall is rendered for: the PC parts' hosts and the routers."""
    return sorted(name for name, view in model["hosts"].items() if view["kind"] != MPCPU_KIND)


def appliance_routers(model):
    """{router: platform} of the routers rendered for review and never logged in to."""
    return dict((r["name"], r["platform"]) for r in model["routers"] if r.get("platform"))


def _appliance_router_files(model, host, platform):
    """An appliance router's own boundary on its platform, with Aerleon's flow check: the
    flows crossing it (its own traffic, VRRP say, is the appliance's control plane)."""
    host_policy = policy.build_host_policy(model, host)
    crossing = dict(host_policy, rules=policy.rules_in(host_policy, policy.FORWARD))
    if not crossing["rules"]:
        return {"firewall/%s/README.md" % host: NO_CROSSING_NOTE}
    if platform == "cisco_ios":
        rendered = targets.render_files(crossing, ("cisco_ios",))
    else:
        rendered = appliance.render_files(model, crossing, (platform,))
    return dict(("firewall/%s/%s" % (host, path), text) for path, text in rendered.items())


def _firewall_files(model):
    files = {}
    platforms = appliance_routers(model)
    for host in managed_hosts(model):
        if host in platforms:
            files.update(_appliance_router_files(model, host, platforms[host]))
            continue
        names = ROUTER_TARGETS if model["hosts"][host]["router"] else HOST_TARGETS
        rendered = targets.render_files(policy.build_host_policy(model, host), names)
        files.update(("firewall/%s/%s" % (host, path), text) for path, text in rendered.items())
    files.update(_site_router_files(policy.build_site_router_policy(model)))
    return files


def _site_router_files(boundary):
    """The site router ACL, or a note when nothing crosses between networks (a flat site)."""
    if not policy.rules_in(boundary, policy.FORWARD):
        return {SITE_ROUTER_NOTE: NO_CROSSING_NOTE}
    site_acl = targets.target("cisco_ios").render(boundary)
    return {SITE_ROUTER_ACL: site_acl[targets.CiscoIos.main_file]}


def _appliance_files(model):
    """The site boundary for appliances, rendered by Aerleon (needs it on the controller)."""
    boundary = policy.build_site_router_policy(model)
    if not policy.rules_in(boundary, policy.FORWARD):
        return {"firewall/appliance/README.md": NO_CROSSING_NOTE}
    rendered = appliance.render_files(model, boundary, APPLIANCE_TARGETS)
    return {"firewall/appliance/%s" % path: text for path, text in rendered.items()}


def _part_hosts(model, part):
    """The hosts playing ``part``, with their views, by name."""
    return sorted((name, view) for name, view in model["hosts"].items() if part in view["parts"])


def _service_files(model):
    files = {}
    for name, view in _part_hosts(model, DHCP_PART):
        # The bundle has no host facts: each address stands for the interface carrying it.
        addresses = [
            {"device": "<interface with %s>" % ip, "address": ip} for ip in view["addresses"]
        ]
        config = services.kea_dhcp4_config(model, name, addresses, lease_file=KEA_LEASE_FILE)
        files["services/%s/kea-dhcp4.conf" % name] = _json(config)
    for name, _view in _part_hosts(model, NTP_PART):
        files["services/%s/chrony.json" % name] = _json(services.chrony_server_settings(model))
    for name, _view in _part_hosts(model, SMTP_PART):
        settings = services.postfix_relay_settings(model)
        files["services/%s/postfix.json" % name] = _json(settings)
    return files


def bundle_files(model):
    """{relative path: text} of the whole bundle."""
    files = {
        "port-matrix.md": reports.port_matrix(model),
        "flows.mmd": reports.flow_diagram(model),
        "site-model.json": _json(model),
    }
    files.update(_firewall_files(model))
    files.update(_appliance_files(model))
    files.update(_service_files(model))
    return files
