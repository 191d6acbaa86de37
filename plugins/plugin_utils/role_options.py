# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the collection's roles: each role's argument spec and the limits beyond it,
checked the same way whether the inventory sets an option or a play hands it to the role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
from collections.abc import Mapping

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import smarthost
from ansible_collections.megapower.mpcpu.plugins.plugin_utils._netaddr import netaddr
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.problems import (
    Problems,
    port_problem,
    problem,
)
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.templated import has_template

_text = appendix_d.value_text


# The roles whose options an inventory may set per host, and the group each runs on (None:
# every host the firewall role runs on, the part hosts and the routers). The server roles and
# their groups come from the table; the device role reads no per-host option.
ROLE_PARTS = (("firewall", None),) + tuple(
    (table_row.pc_role, table_row.pc_part)
    for table_row in appendix_d.ROWS
    if table_row.pc_role not in (None, "devices")
)
ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")

SPEC_KEYS = ("type", "elements", "choices")

_SPEC_FILES = {}
_ONE_BY_ONE = {}


def spec_entries(role):
    """``role``'s meta/argument_specs.yml, each entry point by name, read once per process."""
    if role not in _SPEC_FILES:
        path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
        with open(path, encoding="utf-8") as handle:
            _SPEC_FILES[role] = yaml.safe_load(handle)["argument_specs"]
    return _SPEC_FILES[role]


def _spec_options(role):
    """Every option of ``role``'s main entry point, as written there."""
    return spec_entries(role)["main"]["options"]


def role_option_names(role):
    """The options of ``role`` a run checks: every one of its spec but the site model (dicts)."""
    return sorted(
        name for name, option in _spec_options(role).items() if option.get("type") != "dict"
    )


def role_defaults(role):
    """Each option's default, as ``role``'s argument spec gives it (None where it gives none)."""
    return dict((name, option.get("default")) for name, option in _spec_options(role).items())


def role_spec(role):
    """The options of ``role`` its argument spec and ``ROLE_LIMITS`` judge one by one: all but
    those its own check (``ROLE_CHECKS``) judges together, so each problem is named once."""
    if role not in _ONE_BY_ONE:
        judged_together = ROLE_CHECKS.get(role, ((), None))[0]
        _ONE_BY_ONE[role] = dict(
            (name, _spec_options(role)[name])
            for name in role_option_names(role)
            if name not in judged_together
        )
    return _ONE_BY_ONE[role]


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _at_least(minimum, message):
    def check(value, _settings):
        if not (_number(value) and value >= minimum):
            return message % _text(value)
        return None

    return check


def _above_zero(message):
    def check(value, _settings):
        if not (_number(value) and value > 0):
            return message % _text(value)
        return None

    return check


def _one_port(value, _settings):
    return port_problem(value)


def _lease_lifetime(value, _settings):
    return lease_lifetime_problem(value)


def management_ports_problem(ports):
    """Why ``ports`` are not the TCP ports a firewall keeps open for management (None when
    they are): the firewall role's option here, the firewall filters' option in the policy."""
    if not isinstance(ports, (list, tuple)) or not ports:
        return "give at least one TCP port (SSH: 22)"
    return "; ".join(problem for problem in map(port_problem, ports) if problem) or None


def _management_ports(ports, _settings):
    return management_ports_problem(ports)


def _backoff_max(value, settings):
    initial = settings.get("log_collector_backoff_initial")
    if _number(value) and _number(initial) and value < initial:
        return "%s must not be below log_collector_backoff_initial (%s)" % (
            _text(value),
            _text(initial),
        )
    return None


def _absolute_path(value, _settings):
    if not re.match(r"^/[^\s]*$", value or ""):
        return "%s must be an absolute path without whitespace" % _text(value)
    return None


def _absolute_path_or_null(value, settings):
    return None if value is None else _absolute_path(value, settings)


def _umask_drops_writes(value, _settings):
    # u+w, g+w, o+r and o+w: tftpd-hpa must never reopen an upload to overwrite it
    if re.match(r"^0?[0-7]{3}$", value or "") and int(value, 8) & 0o226 == 0o226:
        return None
    return (
        '%s must be quoted octal like "0227" that drops every write bit (so tftpd-hpa can never '
        "reopen an upload to overwrite it) and o+r" % _text(value)
    )


def _between(low, high, message):
    def check(value, _settings):
        if not (_number(value) and low <= value <= high):
            return message % _text(value)
        return None

    return check


def _remap_pattern(value, _settings):
    if re.search(r"[\s#]", value or ""):
        return "whitespace and # cannot be written in a tftpd-hpa remap rule"
    return None


def _shell_safe_path(value, _settings):
    if not re.match(r'^/[^\s"$`\\]*$', value or ""):
        return "%s must be an absolute path without whitespace or shell characters" % _text(value)
    return None


# --- what a role judges beyond its spec, option by option or together ----------------------

HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
SMARTHOST = re.compile(r"^\[(?P<host>[^\[\]]*)\](?::(?P<port>[0-9]+))?$")
MAX_STRATUM = 15


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _valid_host(text):
    if not isinstance(text, str):
        return False
    return netaddr.valid_ipv4(text) or netaddr.valid_ipv6(text) or bool(HOST_NAME.match(text))


def lease_lifetime_problem(value):
    """Why ``value`` is not a DHCP lease lifetime (None when it is one)."""
    if _positive_int(value):
        return None
    return "%s is not a positive number of seconds" % _text(value)


def ntp_option_errors(host, upstream_servers=(), local_stratum=10):
    """What is wrong with the ntp role's options on ``host``."""
    errors = []
    if not isinstance(upstream_servers, (list, tuple)):
        errors.append(
            problem(host, "ntp_upstream_servers", "must be a list of host names or addresses")
        )
        upstream_servers = []
    for index, server in enumerate(upstream_servers):
        if not _valid_host(server):
            errors.append(
                problem(
                    host,
                    "ntp_upstream_servers[%d]" % index,
                    "%r is not a host name or IP address" % (server,),
                )
            )
    if local_stratum is not None and not (
        _positive_int(local_stratum) and local_stratum <= MAX_STRATUM
    ):
        errors.append(
            problem(
                host,
                "ntp_local_stratum",
                "%r is not a stratum from 1 to %d (or null)" % (local_stratum, MAX_STRATUM),
            )
        )
    if local_stratum is None and not upstream_servers:
        errors.append(
            problem(
                host,
                "ntp_local_stratum",
                "null with no ntp_upstream_servers: the server would never be synchronised "
                "and would answer nobody",
            )
        )
    return errors


def parse_smarthost(text):
    """``[host]:port`` (or ``[host]``) into (host, port); ValueError says what is wrong.

    The brackets are required: they make postfix deliver to that very host instead of
    looking up the domain's MX records, which is what an alarm relay wants.
    """
    if not isinstance(text, str):
        raise ValueError("%r is not a string of the form [host]:port" % (text,))
    match = SMARTHOST.match(text.strip())
    if not match:
        raise ValueError(
            "%r is not of the form [host]:port (for example [mail.example.com]:587)" % (text,)
        )
    name = match.group("host")
    if not _valid_host(name):
        raise ValueError("%r: %r is not a host name or IP address" % (text, name))
    port = match.group("port")
    if port is None:
        return name, None
    why_not = port_problem(int(port))
    if why_not:
        raise ValueError("%r: %s" % (text, why_not))
    return name, int(port)


def smtp_option_errors(host, relayhost="", message_size_limit=10240000):
    """What is wrong with the smtp role's options on ``host``."""
    errors = []
    if relayhost:
        try:
            parse_smarthost(relayhost)
        except ValueError as error:
            errors.append(problem(host, "smtp_relayhost", str(error)))
    if not _positive_int(message_size_limit):
        errors.append(
            problem(
                host,
                "smtp_message_size_limit",
                "%r is not a positive number of bytes" % (message_size_limit,),
            )
        )
    return errors


def _syslog_target_errors(host, syslog_host, port):
    errors = []
    if not _valid_host(syslog_host):
        errors.append(
            problem(
                host,
                "log_collector_syslog_host",
                "%s is not a host name or IP address" % _text(syslog_host),
            )
        )
    why_not = port_problem(port)
    if why_not:
        errors.append(problem(host, "log_collector_syslog_port", why_not))
    return errors


def log_collector_syslog_errors(host, *options):
    """What is wrong with the log_collector role's forwarding options on ``host`` (journal,
    syslog host, port, TLS, CA file, as ``ROLE_CHECKS`` lists them): a syslog collector rsyslog
    could not reach or check, or records it could not read."""
    journal, syslog_host, port, tls, ca = options
    errors = [
        problem(host, name, "%s is not a boolean (true or false)" % _text(value))
        for name, value in (("log_collector_journal", journal), ("log_collector_syslog_tls", tls))
        if not isinstance(value, bool)
    ]
    if not isinstance(ca, str):
        errors.append(problem(host, "log_collector_syslog_ca_file", "%s is not a path" % _text(ca)))
    if errors or syslog_host in ("", None):
        return errors
    errors.extend(_syslog_target_errors(host, syslog_host, port))
    if tls and not ca:
        errors.append(
            problem(
                host,
                "log_collector_syslog_ca_file",
                "empty, but log_collector_syslog_tls is true: give the CA that signed the "
                "syslog collector's certificate (or set log_collector_syslog_tls: false)",
            )
        )
    if not journal:
        errors.append(
            problem(
                host,
                "log_collector_journal",
                "false, but log_collector_syslog_host is set: rsyslog reads the records "
                "from the journal",
            )
        )
    return errors


# The smtp role's smarthost options, judged with smtp_relayhost (TLS, login, rewriting).
SMTP_RELAY_OPTIONS = (
    "smtp_relay_tls_level",
    "smtp_relay_tls_wrappermode",
    "smtp_relay_tls_ca_certificates",
    "smtp_relay_auth",
    "smtp_relay_username",
    "smtp_relay_password",
    "smtp_sender_address",
    "smtp_recipient_map",
)


def _smarthost_port(relayhost):
    """The port of smarthost ``relayhost``; None for none or a malformed one (refused apart)."""
    try:
        return parse_smarthost(relayhost)[1] or smarthost.DEFAULT_PORT
    except ValueError:
        return None


def smtp_relay_option_errors(host, relayhost="", message_size_limit=10240000, *relay_values):
    """``smtp_option_errors`` and the smarthost's TLS, login and rewriting options, given in
    the order of ``SMTP_RELAY_OPTIONS`` (those left out take the role's defaults)."""
    errors = smtp_option_errors(host, relayhost, message_size_limit)
    port = _smarthost_port(relayhost)
    options = dict((name, role_defaults("smtp")[name]) for name in SMTP_RELAY_OPTIONS)
    options.update(zip(SMTP_RELAY_OPTIONS[: len(relay_values)], relay_values, strict=True))
    options["smtp_relayhost"] = relayhost
    return errors + smarthost.relay_option_problems(host, port, options)


# Options a role judges together with a check of its own (one problem each, some named by a
# list element), in the order that check takes them; the spec's one-by-one check leaves them
# out (``role_spec``).
ROLE_CHECKS = {
    "ntp": (("ntp_upstream_servers", "ntp_local_stratum"), ntp_option_errors),
    "smtp": (
        ("smtp_relayhost", "smtp_message_size_limit") + SMTP_RELAY_OPTIONS,
        smtp_relay_option_errors,
    ),
    "log_collector": (
        (
            "log_collector_journal",
            "log_collector_syslog_host",
            "log_collector_syslog_port",
            "log_collector_syslog_tls",
            "log_collector_syslog_ca_file",
        ),
        log_collector_syslog_errors,
    ),
}


# What each role refuses beyond its argument spec (its assert and problem-list tasks, and what
# the file it renders is checked with), on the values the spec has converted.
ROLE_LIMITS = {
    "firewall_confirm_timeout": _at_least(10, "%s s is too short; give at least 10"),
    "firewall_confirm_port": _one_port,
    "firewall_management_ports": _management_ports,
    "dhcp_valid_lifetime": _lease_lifetime,
    "dhcp_lease_cleanup_interval": _at_least(
        0, "%s is not a number of seconds (0 turns cleanup off)"
    ),
    "log_collector_retention_months": _at_least(
        1, "%s must be 1 or more (months of log files kept)"
    ),
    "log_collector_backoff_initial": _above_zero("%s must be above 0 seconds"),
    "log_collector_backoff_max": _backoff_max,
    "log_collector_connect_timeout": _above_zero("%s must be above 0 seconds"),
    "log_collector_keepalive_idle": _at_least(1, "%s must be 1 second or more"),
    "log_collector_log_dir": _absolute_path,
    "log_collector_metrics_textfile_dir": _absolute_path_or_null,
    "log_collector_metrics_interval": _at_least(1, "%s must be 1 second or more"),
    "tftp_receiver_metrics_textfile_dir": _absolute_path_or_null,
    "tftp_receiver_metrics_interval": _at_least(1, "%s must be 1 second or more"),
    "log_collector_syslog_queue_max_mib": _at_least(
        1, "%s must be 1 or more (MiB of disk for records waiting to be forwarded)"
    ),
    "tftp_receiver_retention_days": _at_least(1, "%s must be 1 or more (days a snapshot is kept)"),
    "tftp_receiver_retention_max_bytes": _at_least(
        1, "%s must be 1 or more (bytes all snapshots may take)"
    ),
    "tftp_receiver_umask": _umask_drops_writes,
    "tftp_receiver_retransmit_ms": _between(10, 255000, "%s must be 10 to 255000 (milliseconds)"),
    "tftp_receiver_filename_pattern": _remap_pattern,
    "tftp_receiver_directory": _shell_safe_path,
    "smtp_queue_lifetime_days": _between(1, 100, "%s must be 1 to 100 (days, postfix's most)"),
}


def _role_hosts(model, part):
    if part is not None:
        return [host["name"] for host in model["parts"].get(part, ())]
    names = set(host["name"] for hosts in model["parts"].values() for host in hosts)
    return sorted(names | set(router["name"] for router in model["routers"]))


# What a value of each spec type must already be: the spec would convert "30" or "no", but
# Ansible's role argument check converts nothing and most roles read the value as given, so a
# string where a number or a boolean belongs breaks a later task or is read wrongly.
STRICT_TYPES = {
    "bool": ((bool,), "is not a boolean (true or false)"),
    "int": ((int,), "is not an integer"),
    "float": ((int, float), "is not a number"),
    "list": ((list, tuple), "is not a list"),
}

# Numbers the roles read through Jinja's int or float wherever they use them: a quoted number
# ("30", as -e key=value gives it) works there, so the spec's conversion decides.
CAST_BY_ROLE = frozenset(
    (
        "firewall_confirm_timeout",
        "firewall_confirm_port",
        "log_collector_retention_months",
        "log_collector_backoff_initial",
        "log_collector_backoff_max",
        "log_collector_connect_timeout",
        "log_collector_keepalive_idle",
    )
)


def _of_type(value, kinds):
    if value is None or not isinstance(value, kinds):
        return False
    return bool in kinds or not isinstance(value, bool)  # true is an int to Python, not here


def _converted(name, option, value, problems, host):
    """(True, ``value`` as the role's argument spec takes it), or (False, None) after adding
    the refusal."""
    if value is None and "default" in option and option["default"] is None:
        return True, None  # null is the role's own default (for example: decide on the host)
    kinds, refusal = STRICT_TYPES.get(option.get("type"), ((object,), ""))
    if not (_of_type(value, kinds) or (name in CAST_BY_ROLE and isinstance(value, str))):
        quoted = option.get("type") in ("int", "float") and appendix_d.quoted_number_problem(value)
        problems.add(host, name, quoted or "%s %s" % (_text(value), refusal or "is not set"))
        return False, None
    spec = dict((key, option[key]) for key in SPEC_KEYS if key in option)
    result = ArgumentSpecValidator({name: spec}).validate({name: value})
    for message in result.error_messages:
        problems.add(host, name, message)
    return not result.error_messages, result.validated_parameters.get(name)


def _check_one_by_one(role, host, host_vars, problems):
    """The spec and ``ROLE_LIMITS`` on each option of ``role`` that ``host_vars`` sets."""
    spec = role_spec(role)
    settings = dict(
        (name, option["default"])
        for name, option in spec.items()
        if not has_template(option.get("default"))
    )
    checked = []
    for name in sorted(spec):
        if name in host_vars:
            valid, settings[name] = _converted(name, spec[name], host_vars[name], problems, host)
            if valid:
                checked.append(name)
            if spec[name].get("type") == "path":
                # The spec's check expands $VAR and ~, but the role writes the path as given.
                settings[name] = host_vars[name]
    for name in checked:
        limit = ROLE_LIMITS.get(name)
        message = limit(settings[name], settings) if limit else None
        if message:
            problems.add(host, name, message)


def _check_together(role, host, host_vars, problems):
    """``role``'s own check (``ROLE_CHECKS``) when ``host_vars`` sets one of its options; the
    others take the spec's defaults."""
    names, check = ROLE_CHECKS.get(role, ((), None))
    if not any(name in host_vars for name in names):
        return
    defaults = role_defaults(role)
    problems.extend_texts(check(host, *[host_vars.get(name, defaults[name]) for name in names]))


def role_option_problems(role, host, options):
    """What ``role`` would refuse in ``options`` (option name to value) on ``host``.

    The argument spec and limits the site model applies to the options an inventory sets, for
    options a play hands the role as parameters, which the model never sees: the same
    ``host: option: message`` problems. Options left out take the role's defaults.
    """
    if role not in dict(ROLE_PARTS):
        raise ValueError(
            "%r is not a role with checked options (known: %s)"
            % (role, ", ".join(sorted(dict(ROLE_PARTS))))
        )
    if not isinstance(options, Mapping):
        raise ValueError(
            "the options of role %s must be a mapping, not %s" % (role, _text(options))
        )
    problems = Problems()
    _check_together(role, host, options, problems)
    _check_one_by_one(role, host, options, problems)
    return list(problems)


def check_inventory(model, hostvars, problems):
    """Every role option the inventory sets on the hosts of ``model``, added to ``problems``:
    first each role's own check, then the specs and limits, one option at a time."""
    for check in (_check_together, _check_one_by_one):
        for role, part in ROLE_PARTS:
            for host in _role_hosts(model, part):
                check(role, host, hostvars[host], problems)
