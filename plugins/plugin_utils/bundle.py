# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change bundle: everything a site would get, rendered from the model, for review.

No host is contacted. Firewall files are exactly what the firewall role loads, IPv6 included,
with the host's firewall options; an interface name, which the host's kernel decides at deploy
time, is a placeholder (``deploy-if0``...) that ``firewall/<host>/interfaces.md`` maps to the
address it carries. Service settings are what the model fixes, and ``options/<host>/<role>.json``
holds every option of every role that runs on the host, as the inventory sets it or the role
defaults it (secrets masked), so any inventory change that changes a host changes the bundle.
Same model and inventory in, byte-identical files out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import (
    reports,
    role_options,
    services,
    site_warnings,
)
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
ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "roles"))


def _json(data):
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def managed_hosts(model):
    """Every host a firewall is rendered for: the PC parts' hosts and the routers."""
    return sorted(name for name, view in model["hosts"].items() if view["kind"] != MPCPU_KIND)


# The firewall role's options that shape the rules, with the role's defaults.
FIREWALL_POLICY_OPTIONS = (
    ("firewall_input_policy", "input_policy", "accept"),
    ("firewall_management_ports", "management_ports", list(policy.DEFAULT_MANAGEMENT_PORTS)),
    ("firewall_log_drops", "log_drops", False),
)
DEPLOY_INTERFACE = "deploy-if%d"
SECRET_WORDS = ("password", "secret", "passphrase", "token")
MASKED = "<secret: masked>"


def _deploy_interfaces(view):
    """Each of the host's addresses on a placeholder interface: the firewall role reads the
    real names from the host's kernel at deploy time."""
    return [
        {"device": DEPLOY_INTERFACE % index, "address": ip}
        for index, ip in enumerate(view["addresses"])
    ]


def _interfaces_note(interfaces):
    lines = [
        "# Interfaces filled in at deploy time",
        "",
        "The firewall role reads the host's interfaces from its kernel when it deploys; the",
        "files here name each by a placeholder, for the address it must carry:",
        "",
    ]
    lines += ["- `%s`: the interface carrying %s" % (i["device"], i["address"]) for i in interfaces]
    return "\n".join(lines) + "\n"


def _policy_options(host_vars):
    def value(name, default):
        found = host_vars.get(name, default)
        return [int(port) for port in found] if name == "firewall_management_ports" else found

    return dict(
        (keyword, value(name, default)) for name, keyword, default in FIREWALL_POLICY_OPTIONS
    )


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


def _firewall_files(model, hostvars=None):
    files = {}
    platforms = appliance_routers(model)
    for host in managed_hosts(model):
        if host in platforms:
            files.update(_appliance_router_files(model, host, platforms[host]))
            continue
        view = model["hosts"][host]
        names = ROUTER_TARGETS if view["router"] else HOST_TARGETS
        interfaces = _deploy_interfaces(view)
        host_policy = policy.build_host_policy(
            model,
            host,
            interface_addresses=interfaces,
            **_policy_options(hostvars[host] if hostvars is not None else {}),
        )
        rendered = targets.render_files(host_policy, names)
        files.update(("firewall/%s/%s" % (host, path), text) for path, text in rendered.items())
        files["firewall/%s/interfaces.md" % host] = _interfaces_note(interfaces)
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
        settings = services.chrony_server_settings(model, name)
        files["services/%s/chrony.json" % name] = _json(settings)
    for name, _view in _part_hosts(model, SMTP_PART):
        settings = services.postfix_relay_settings(model, name)
        files["services/%s/postfix.json" % name] = _json(settings)
    return files


def role_option_value(name, value):
    """``value`` as the bundle shows it: a secret (a name holding password, secret...) masked."""
    if any(word in name for word in SECRET_WORDS):
        return MASKED if value not in (None, "") else value
    return value


def _spec_defaults(role):
    specs = site_warnings.declared_spec(role)
    return dict((name, option.get("default")) for name, option in specs.items())


def role_option_files(model, hostvars):
    """``options/<host>/<role>.json``: every option of each role that runs on the host (its
    site model and ``mpcpu_site`` aside, which the bundle shows whole), as the inventory sets
    it or else as the role's argument spec defaults it (a default holding Jinja is shown as
    written: it is filled in at deploy time)."""
    files = {}
    for role, part in role_options.ROLE_PARTS:
        for host in site_warnings.role_hosts(model, part):
            files["options/%s/%s.json" % (host, role)] = _json(
                _host_options(role, host, hostvars[host])
            )
    return files


# Text files the server roles write whole from a template and the role's options (no host
# fact needed): rendered into the bundle as the host gets them, under files/<host>/<path>.
TEXT_TEMPLATES = {
    "ntp": (("chrony.conf.j2", "/etc/chrony/chrony.conf"),),
    "smtp": (
        ("main.cf.j2", "/etc/postfix/main.cf"),
        ("master.cf.j2", "/etc/postfix/master.cf"),
    ),
}


HOST_NAME_DEFAULT = "{{ inventory_hostname }}"


def _default_on(host, value):
    """A spec default as ``host`` gets it: its own name filled in; other Jinja is shown as
    written (filled in at deploy time)."""
    return host if value == HOST_NAME_DEFAULT else value


def _host_options(role, host, host_vars):
    names = sorted(site_warnings.declared_options(role) - set(["mpcpu_site"]))
    defaults = _spec_defaults(role)
    return dict(
        (name, role_option_value(name, host_vars.get(name, _default_on(host, defaults.get(name)))))
        for name in names
        if not name.endswith("_site_model")
    )


def template_jobs(model, hostvars):
    """[{path, template, variables}]: each text file of ``TEXT_TEMPLATES`` on each host of its
    role, with the variables the role renders it with (its options as the host has them,
    secrets masked, and the site model). The bundle role renders them with Ansible's own
    template engine, so the bundle shows what the role writes."""
    jobs = []
    for role, part in role_options.ROLE_PARTS:
        for template, dest in TEXT_TEMPLATES.get(role, ()):
            for host in site_warnings.role_hosts(model, part):
                variables = _host_options(role, host, hostvars[host])
                variables["%s_site_model" % role] = model
                # The role's templates read the settings of the host they are rendered for.
                variables["inventory_hostname"] = host
                jobs.append(
                    {
                        "path": "files/%s%s" % (host, dest),
                        "template": os.path.join(ROLES_DIR, role, "templates", template),
                        "variables": variables,
                    }
                )
    return jobs


def bundle_files(model, hostvars=None):
    """{relative path: text} of the whole bundle; with the inventory's ``hostvars`` the
    firewall files take each host's firewall options and ``options/`` shows every role
    option of every host."""
    files = {
        "port-matrix.md": reports.port_matrix(model),
        "flows.mmd": reports.flow_diagram(model),
        "site-model.json": _json(model),
    }
    files.update(_firewall_files(model, hostvars))
    if hostvars is not None:
        files.update(role_option_files(model, hostvars))
    files.update(_appliance_files(model))
    files.update(_service_files(model))
    return files
