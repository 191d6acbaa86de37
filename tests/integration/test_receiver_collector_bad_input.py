"""tftp_receiver and log_collector refuse bad input with a clear error before any host changes.

The inventory's hosts point at a closed port on loopback: a run that got past the roles'
checks ends UNREACHABLE there (the good-input case proves it), so a refusal without any
UNREACHABLE happened before Ansible connected to the host at all.
"""

import copy
import json
import pathlib

import pytest
import yaml

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "tests" / "integration" / "inventories" / "receiver_collector"
PARTS = {"tftp_receiver": "mpcpu_snapshot_receivers", "log_collector": "mpcpu_log_collectors"}
PLAYBOOK = """
- name: Apply {role} the way the site playbook does
  hosts: {part}
  gather_facts: false
  roles:
    - role: megapower.mpcpu.{role}
      vars: {role_vars}
"""
HOSTS = {"tftp_receiver": "receiver", "log_collector": "collector"}


def good_site():
    with open(INVENTORY / "group_vars" / "all.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["mpcpu_site"]


def apply_role(tmp_path, role, extra_vars, role_vars=None, hosts=None):
    playbook = tmp_path / "apply.yml"
    playbook.write_text(
        PLAYBOOK.format(
            role=role, part=hosts or PARTS[role], role_vars=json.dumps(role_vars or {})
        ),
        encoding="utf-8",
    )
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps(extra_vars), encoding="utf-8")
    result = ansible_cli.run(
        "ansible-playbook", "-i", INVENTORY, playbook, "-e", "@%s" % variables, timeout=180
    )
    return result.returncode, result.stdout + result.stderr


def assert_refused_before_connecting(code, output, *messages):
    assert code == 2, output
    # the [ERROR] line shows the problems as a Python list, on one line: quotes escaped
    unescaped = output.replace("\\'", "'")
    for message in messages:
        assert message in unescaped, output
    assert "UNREACHABLE" not in output, output
    assert "changed=0" in output and "unreachable=0" in output, output
    assert "Traceback" not in output, output


@pytest.mark.parametrize("role", sorted(PARTS))
def test_good_input_passes_the_checks_and_only_then_reaches_for_the_host(tmp_path, role):
    code, output = apply_role(tmp_path, role, {})
    assert code != 0
    assert "UNREACHABLE" in output, output
    assert "problem(s)" not in output, output


@pytest.mark.parametrize(
    ("role", "settings", "messages"),
    [
        (
            "tftp_receiver",
            {"tftp_receiver_retention_days": 0},
            ["tftp_receiver_retention_days: 0 must be 1 or more (days a snapshot is kept)"],
        ),
        (
            "tftp_receiver",
            {"tftp_receiver_retention_days": -3, "tftp_receiver_retention_max_bytes": 0},
            [
                "tftp_receiver_retention_days: -3 must be 1 or more",
                "tftp_receiver_retention_max_bytes: 0 must be 1 or more",
            ],
        ),
        (
            "tftp_receiver",
            {"tftp_receiver_umask": "0022"},
            ["tftp_receiver_umask: '0022' must be quoted octal"],
        ),
        (
            "tftp_receiver",
            # The old default: world-writable uploads tftpd-hpa could overwrite.
            {"tftp_receiver_umask": "0024", "tftp_receiver_retransmit_ms": 5},
            [
                "tftp_receiver_umask: '0024' must be quoted octal like \"0227\" that drops every",
                "tftp_receiver_retransmit_ms: 5 must be 10 to 255000 (milliseconds)",
            ],
        ),
        (
            "tftp_receiver",
            {"tftp_receiver_filename_pattern": "^[a-z ]+$"},
            ["tftp_receiver_filename_pattern: whitespace and # cannot be written"],
        ),
        (
            "log_collector",
            {"log_collector_retention_months": 0},
            ["log_collector_retention_months: 0 must be 1 or more"],
        ),
        (
            "log_collector",
            {"log_collector_retention_months": -1, "log_collector_backoff_max": 0.5},
            [
                "log_collector_retention_months: -1 must be 1 or more",
                "log_collector_backoff_max: 0.5 must not be below log_collector_backoff_initial",
            ],
        ),
    ],
)
@pytest.mark.parametrize("given_as", ["inventory", "role parameters"])
def test_bad_role_settings_are_refused_naming_the_host_and_variable(
    tmp_path, role, settings, messages, given_as
):
    """Set in the inventory, the site model the role compiles first refuses them; handed to
    the role as parameters, which the model never sees, the role does, with the same words."""
    if given_as == "inventory":
        code, output = apply_role(tmp_path, role, settings)
        heading = "Invalid MPCPU site: %d problem(s)" % len(messages)
    else:
        code, output = apply_role(tmp_path, role, {}, role_vars=settings)
        heading = "%s: %d problem(s)" % (role, len(messages))
    named = ["%s: %s" % (HOSTS[role], message) for message in messages]
    assert_refused_before_connecting(code, output, heading, *named)


def test_the_firewall_refuses_a_role_parameter_with_the_site_models_words(tmp_path):
    code, output = apply_role(
        tmp_path, "firewall", {}, role_vars={"firewall_confirm_timeout": 5}, hosts="receiver"
    )
    assert_refused_before_connecting(
        code,
        output,
        "firewall: 1 problem(s)",
        "receiver: firewall_confirm_timeout: 5 s is too short; give at least 10",
    )


@pytest.mark.parametrize(
    ("role", "host", "message"),
    [
        (
            "tftp_receiver",
            "collector",
            "collector: groups: not in mpcpu_snapshot_receivers, so it receives no snapshots",
        ),
        (
            "log_collector",
            "cpu-a",
            "cpu-a: groups: not in mpcpu_log_collectors, so it collects no activity log",
        ),
    ],
)
def test_a_host_that_does_not_play_the_row_is_refused(tmp_path, role, host, message):
    code, output = apply_role(tmp_path, role, {}, hosts=host)
    assert_refused_before_connecting(code, output, "%s: 1 problem(s)" % role, message)


@pytest.mark.parametrize(
    ("role", "row", "field", "port"),
    [
        ("log_collector", "activity_logging", "mpcpu_port", 70000),
        ("log_collector", "activity_logging", "mpcpu_port", 0),
        ("tftp_receiver", "snapshot", "pc_port", 65536),
    ],
)
def test_port_override_out_of_range_is_refused_by_the_site_model(tmp_path, role, row, field, port):
    site = copy.deepcopy(good_site())
    site["port_overrides"] = {row: {field: port}}
    code, output = apply_role(tmp_path, role, {"mpcpu_site": site})
    assert_refused_before_connecting(
        code,
        output,
        "mpcpu_site.port_overrides.%s: %s: %d is not a port number from 1 to 65535"
        % (row, field, port),
    )


@pytest.mark.parametrize(
    ("role", "role_vars", "message"),
    [
        (
            # Set in the inventory the site model refused it; as a role parameter it passed.
            "dhcp",
            {"dhcp_lease_cleanup_interval": -5},
            "receiver: dhcp_lease_cleanup_interval: -5 is not a number of seconds "
            "(0 turns cleanup off)",
        ),
        ("dhcp", {"dhcp_valid_lifetime": 0}, "receiver: dhcp_valid_lifetime: 0 is not a positive"),
        ("ntp", {"ntp_local_stratum": 16}, "receiver: ntp_local_stratum: 16 is not a stratum"),
        ("smtp", {"smtp_message_size_limit": 0}, "receiver: smtp_message_size_limit: 0 is not"),
    ],
    ids=["dhcp cleanup interval", "dhcp lifetime", "ntp stratum", "smtp size limit"],
)
def test_every_server_role_refuses_a_bad_role_parameter_before_connecting(
    tmp_path, role, role_vars, message
):
    """The role's one pre-check reads every option of its spec with this run's value."""
    code, output = apply_role(tmp_path, role, {}, role_vars=role_vars, hosts="receiver")
    assert_refused_before_connecting(code, output, "%s: " % role, message)
