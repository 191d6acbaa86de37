"""The filter role_option_problems: the roles' call, and the errors an operator sees."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.filter import role_options


def test_the_filter_takes_the_options_as_its_input():
    check = role_options.FilterModule().filters()["role_option_problems"]
    assert check({"firewall_confirm_timeout": 5}, "firewall", "gw") == [
        "gw: firewall_confirm_timeout: 5 s is too short; give at least 10"
    ]
    assert check({"firewall_confirm_timeout": 60}, "firewall", "gw") == []


def test_an_unknown_role_is_a_filter_error_naming_the_known_ones():
    with pytest.raises(AnsibleFilterError, match="'web' is not a role with checked options"):
        role_options.role_option_problems({}, "web", "gw")
