"""The dhcp and smtp roles refuse bad input with a clear error before any host changes.

Each case runs the role through real ansible-playbook, in check mode, on an inventory whose
servers are this machine (local connection). The error must name the host and the field,
and no task after the checks may run on any host.
"""

import json
import pathlib
import re

import pytest

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORIES = ROOT / "tests" / "integration" / "inventories"
PLAYBOOK = """
- name: Apply the {role} role
  hosts: {group}
  gather_facts: false
  roles:
    - role: megapower.mpcpu.{role}
"""
# Tasks that change a host; none of them may even start.
CHANGING_TASKS = re.compile(
    r"TASK \[megapower\.mpcpu\.(dhcp|smtp) : (Install|Write|Create|Run|Apply)"
)
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", re.M)


def run_role(tmp_path, inventory, role, group):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(role=role, group=group), encoding="utf-8")
    return ansible_cli.run(
        "ansible-playbook",
        "--check",
        "-i",
        INVENTORIES / inventory,
        playbook,
        timeout=180,
        # One line per result, so that messages are never wrapped.
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )


def failure_messages(output):
    """The msg lists of every failed task, as Python lists."""
    messages = []
    for line in output.splitlines():
        if line.startswith("fatal: ["):
            result = json.loads(line.split("=> ", 1)[1])
            messages.append(result["msg"])
    return messages


def recap(output):
    """{host: (ok, changed, failed)} from the PLAY RECAP."""
    return {host: tuple(map(int, counts)) for host, *counts in RECAP.findall(output)}


def assert_stopped_before_any_change(result, hosts):
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert not CHANGING_TASKS.search(output), output
    counts = recap(result.stdout)
    assert sorted(counts) == sorted(hosts), output
    assert all(changed == 0 for _ok, changed, _failed in counts.values()), counts


@pytest.mark.parametrize(
    ("inventory", "problem"),
    [
        (
            "services_bad_reservation",
            "mpcpu-02: mpcpu_ip: 203.0.113.50 is outside every network of kind mpcpu or shared",
        ),
        (
            "services_duplicate_mac",
            "mpcpu-01, mpcpu-02: mpcpu_mac: MAC 02:00:00:00:01:10 is shared by these 2 hosts;"
            " each needs its own",
        ),
    ],
    ids=["reservation outside its subnet", "duplicate MAC"],
)
def test_dhcp_role_refuses_bad_reservations_before_any_change(tmp_path, inventory, problem):
    result = run_role(tmp_path, inventory, "dhcp", "mpcpu_dhcp_servers")
    assert_stopped_before_any_change(result, ["dhcp-srv"])
    (message,) = failure_messages(result.stdout)
    assert message[0] == "Invalid MPCPU site: %d problem(s)" % (len(message) - 1)
    assert problem in message[1:], message


def test_smtp_role_refuses_a_malformed_smarthost_on_every_relay_before_any_change(tmp_path):
    result = run_role(tmp_path, "services_bad_smarthost", "smtp", "mpcpu_smtp_relays")
    assert_stopped_before_any_change(result, ["relay-a", "relay-b"])
    # The site model, which the role compiles once for the play (run_once), refuses the
    # option first (it checks what the inventory sets for the smtp role), with the role's own
    # message, on every relay.
    refusal = [
        "Invalid MPCPU site: 1 problem(s)",
        "relay-a: smtp_relayhost: 'mail.example.com:25' is not of the form [host]:port "
        "(for example [mail.example.com]:587)",
    ]
    assert failure_messages(result.stdout) == [refusal, refusal]
    # The site is invalid as a whole, so relay-b, fine itself, is refused too: no relay is
    # changed while another one is wrong.
    assert [recap(result.stdout)[relay][2] for relay in ("relay-a", "relay-b")] == [1, 1]
