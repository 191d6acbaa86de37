# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change bundle: everything a site would get, rendered from the model, for review.

No host is contacted. Firewall files are exactly what the firewall role loads, IPv6 included,
with the host's firewall options; an interface name, which the host's kernel decides at deploy
time, is a placeholder (``deploy-if0``...) that ``firewall/<host>/interfaces.md`` maps to the
address it carries. ``files/<host>/<path>`` holds every file the server and firewall roles
write whole from a template, rendered by the bundle role from the role's own template and
vars with Ansible's template engine (``template_jobs`` says which, with what), so it is the
file the role writes; ``options/<host>/<role>.json`` holds every option of every role that
runs on the host, as the inventory sets it or the role defaults it (secrets masked), so any
inventory change that changes a host changes the bundle. Same model and inventory in,
byte-identical files out.
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
    site_model,
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


def _host_policy(model, host, hostvars):
    """The host's firewall policy as the firewall role builds it, on the placeholder
    interfaces."""
    return policy.build_host_policy(
        model,
        host,
        interface_addresses=_deploy_interfaces(model["hosts"][host]),
        **_policy_options(hostvars[host] if hostvars is not None else {}),
    )


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
        rendered = targets.render_files(_host_policy(model, host, hostvars), names)
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


# The files each role writes whole from one of its templates: (template, path on the host).
# The bundle role renders them, under files/<host>/<path>, from the role's own template and
# vars/main.yml with Ansible's template engine, so the bundle holds the file the role writes.
# The firewall's files depend on its backend: FIREWALL_FILES and _firewall_jobs.
ROLE_FILES = {
    "dhcp": (("kea-dhcp4.conf.j2", "/etc/kea/kea-dhcp4.conf"),),
    "ntp": (("chrony.conf.j2", "/etc/chrony/chrony.conf"),),
    "smtp": (
        ("main.cf.j2", "/etc/postfix/main.cf"),
        ("master.cf.j2", "/etc/postfix/master.cf"),
    ),
    "tftp_receiver": (
        ("tftpd-hpa.default.j2", "/etc/default/tftpd-hpa"),
        ("tftpd-hpa.remap.j2", "/etc/tftpd-hpa.remap"),
        (
            "tftpd-hpa.store.conf.j2",
            "/etc/systemd/system/tftpd-hpa.service.d/mpcpu-snapshot-store.conf",
        ),
        ("mpcpu-snapshot-store.service.j2", "/etc/systemd/system/mpcpu-snapshot-store.service"),
        (
            "mpcpu-snapshot-retention.service.j2",
            "/etc/systemd/system/mpcpu-snapshot-retention.service",
        ),
        ("mpcpu-snapshot-retention.timer.j2", "/etc/systemd/system/mpcpu-snapshot-retention.timer"),
    ),
    "log_collector": (
        ("config.json.j2", "/etc/mpcpu-log-collector/config.json"),
        ("mpcpu-log-collector.service.j2", "/etc/systemd/system/mpcpu-log-collector.service"),
        ("rsyslog-mpcpu-activity.conf.j2", "/etc/rsyslog.d/60-mpcpu-activity.conf"),
    ),
}
# Files a role writes only while one of its options is set: {template: option}.
ROLE_FILES_WHEN = {"rsyslog-mpcpu-activity.conf.j2": "log_collector_syslog_host"}
FIREWALL_FILES = (
    ("mpcpu-firewall.service.j2", "/etc/systemd/system/mpcpu-firewall.service"),
    ("mpcpu-firewall.sh.j2", "/usr/local/sbin/mpcpu-firewall"),
)
# firewall_backend auto picks firewalld where it runs, which the bundle cannot know.
AUTO_BACKEND = "nftables"
FILES_NOTE_PATH = "files/README.md"
FILES_NOTE = """# Files as the roles write them

`files/<host>/<path>` is each file a role writes whole from a template on that host, rendered
from the role's own template and variables with Ansible's template engine. What only the host
can tell is filled in at deploy time:

- `deploy-if0`, `deploy-if1`...: the interfaces `firewall/<host>/interfaces.md` names by the
  address each carries (the dhcp and firewall roles read them from the host's kernel);
- `firewall_backend: auto`: shown as nftables; a host where firewalld runs gets the files of
  `firewall/<host>/firewalld/` staged instead, with a loader and unit for firewalld;
- secrets: masked.
"""


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


def _job(role, host, template, dest, variables):
    return {
        "path": "files/%s%s" % (host, dest),
        "template": os.path.join(ROLES_DIR, role, "templates", template),
        "vars_file": os.path.join(ROLES_DIR, role, "vars", "main.yml"),
        "variables": variables,
    }


def _role_variables(role, model, host, host_vars):
    """What ``role``'s templates read on ``host``: its options as the host has them (secrets
    masked), the site model, the host's name and the facts the role's tasks work out on the
    host before they write (its view of the site, its addresses on placeholder interfaces)."""
    variables = _host_options(role, host, host_vars)
    variables["%s_site_model" % role] = model
    variables["inventory_hostname"] = host
    if role == "dhcp":
        variables["__dhcp_addresses"] = _deploy_interfaces(model["hosts"][host])
    if role in ("tftp_receiver", "log_collector"):
        variables["__%s_view" % role] = site_model.host_view(model, host, missing_ok=True)
    return variables


def _firewall_jobs(model, host, hostvars):
    """The firewall role's files on ``host`` for the backend it would choose: the unit, the
    loader and the ruleset file(s), each as the role's task loop hands it to the template."""
    variables = _role_variables("firewall", model, host, hostvars[host])
    backend = variables["firewall_backend"]
    chosen = AUTO_BACKEND if backend == "auto" else backend
    rendered = targets.target(chosen).render(_host_policy(model, host, hostvars))
    variables.update(firewall_backend_chosen=chosen, __firewall_rendered=rendered)
    jobs = [_job("firewall", host, t, dest, variables) for t, dest in FIREWALL_FILES]
    config_dir = variables["firewall_config_dir"]
    for name in sorted(rendered):
        if chosen == "firewalld":
            template, dest, item = "ruleset.xml.j2", "%s/firewalld/%s" % (config_dir, name), name
        else:
            template, dest, item = "ruleset.j2", "%s/%s" % (config_dir, name), {"key": name}
        jobs.append(_job("firewall", host, template, dest, dict(variables, item=item)))
    return jobs


def template_jobs(model, hostvars):
    """[{path, template, vars_file, variables}]: each file of ``ROLE_FILES`` on each host of
    its role, and the firewall's files on each host it runs on (appliance routers aside), with
    the variables the role renders it with. The bundle role loads ``vars_file`` (the role's
    vars/main.yml, whose Jinja reads ``variables``) and renders ``template`` with Ansible's own
    template engine, so the bundle shows what the role writes."""
    jobs = []
    appliances = appliance_routers(model)
    for role, part in role_options.ROLE_PARTS:
        for host in site_warnings.role_hosts(model, part):
            if role == "firewall":
                if host not in appliances:
                    jobs.extend(_firewall_jobs(model, host, hostvars))
                continue
            variables = _role_variables(role, model, host, hostvars[host])
            for template, dest in ROLE_FILES.get(role, ()):
                if variables.get(ROLE_FILES_WHEN.get(template), True):
                    jobs.append(_job(role, host, template, dest, variables))
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
    if hostvars is not None:
        files[FILES_NOTE_PATH] = FILES_NOTE
    return files
