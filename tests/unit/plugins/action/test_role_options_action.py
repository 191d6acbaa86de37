"""The action role_options: every option of the role's spec with this run's value, checked
before the role changes anything, with the site model's own messages."""

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.megapower.mpcpu.plugins.action import role_options as action
from ansible_collections.megapower.mpcpu.plugins.modules import role_options as module
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options


def run(args, task_vars):
    task_vars = dict(task_vars, inventory_hostname="gw")
    task = mock.MagicMock(args=args, async_val=0, check_mode=False, action="role_options")
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    loader = DataLoader()
    plugin = action.ActionModule(
        task, connection, mock.MagicMock(), loader, Templar(loader=loader, variables=task_vars)
    )
    return plugin.run(task_vars=task_vars)


def trusted(value):
    """A value as Ansible holds one from a role's files: its templates may be rendered."""
    return trust_as_template(value) if isinstance(value, str) else value


def defaults(role):
    """The role's defaults, as the task sees them inside the role."""
    return dict(
        (name, trusted(role_options.role_defaults(role)[name]))
        for name in role_options.role_option_names(role)
    )


@pytest.mark.parametrize("role", module.ARGUMENT_SPEC["role"]["choices"])
def test_the_roles_defaults_pass_and_every_option_of_the_spec_is_read(role):
    result = run({"role": role}, defaults(role))
    assert not result.get("failed"), result
    assert result["options"] == role_options.role_option_names(role)


def test_the_roles_are_those_with_checked_options():
    assert module.ARGUMENT_SPEC["role"]["choices"] == sorted(dict(role_options.ROLE_PARTS))


def test_a_role_parameter_gets_the_limit_an_inventory_setting_gets():
    task_vars = dict(defaults("dhcp"), dhcp_lease_cleanup_interval=-5)
    result = run({"role": "dhcp"}, task_vars)
    assert result["failed"]
    assert result["msg"] == [
        "dhcp: 1 problem(s)",
        "gw: dhcp_lease_cleanup_interval: -5 is not a number of seconds (0 turns cleanup off)",
    ]


def test_options_are_templated_as_the_role_reads_them():
    task_vars = dict(defaults("ntp"), stratum=16, ntp_local_stratum=trusted("{{ stratum }}"))
    result = run({"role": "ntp"}, task_vars)
    assert result["problems"] == [
        "gw: ntp_local_stratum: 16 is not a stratum from 1 to 15 (or null)"
    ]


def test_the_roles_own_problems_come_first_in_the_same_refusal():
    task_vars = dict(defaults("tftp_receiver"), tftp_receiver_retention_days=0)
    result = run({"role": "tftp_receiver", "problems": ["gw: groups: not in x"]}, task_vars)
    assert result["msg"] == [
        "tftp_receiver: 2 problem(s)",
        "gw: groups: not in x",
        "gw: tftp_receiver_retention_days: 0 must be 1 or more (days a snapshot is kept)",
    ]


def test_an_unknown_role_is_refused_by_the_tasks_spec():
    with pytest.raises(AnsibleActionFail, match="value of role must be one of"):
        run({"role": "bundle"}, {})
