"""The filter appendix_d_groups: the host patterns the playbooks take from the table."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.megapower.mpcpu.plugins.filter import site

groups = site.FilterModule().filters()["appendix_d_groups"]


def test_every_pc_part_in_table_order():
    assert groups(None) == (
        "mpcpu_log_collectors:mpcpu_easy_consoles:mpcpu_snapshot_receivers:mpcpu_managers"
        ":mpcpu_ntp_servers:mpcpu_smtp_relays:mpcpu_dhcp_servers"
    )


def test_the_firewall_play_adds_the_routers_last():
    assert groups(None, routers=True) == groups(None) + ":mpcpu_routers"


def test_the_groups_of_the_rows_the_pc_starts():
    assert groups(None, initiator="pc") == (
        "mpcpu_log_collectors:mpcpu_easy_consoles:mpcpu_managers"
    )


def test_the_groups_of_the_rows_the_mpcpu_starts():
    assert groups(None, initiator="mpcpu") == (
        "mpcpu_snapshot_receivers:mpcpu_ntp_servers:mpcpu_smtp_relays:mpcpu_dhcp_servers"
    )


@pytest.mark.parametrize(
    ("role", "group"),
    [
        ("dhcp", "mpcpu_dhcp_servers"),
        ("ntp", "mpcpu_ntp_servers"),
        ("smtp", "mpcpu_smtp_relays"),
        ("tftp_receiver", "mpcpu_snapshot_receivers"),
        ("log_collector", "mpcpu_log_collectors"),
        ("devices", "mpcpu_managers"),
    ],
)
def test_the_group_of_one_role(role, group):
    assert groups(None, role=role) == group


def test_a_role_that_sets_up_no_row_names_the_known_roles():
    with pytest.raises(AnsibleFilterError, match="'web'.*known: log_collector, tftp_receiver"):
        groups(None, role="web")


def test_an_unknown_initiator_is_refused():
    with pytest.raises(AnsibleFilterError, match="initiator 'router' is not pc or mpcpu"):
        groups(None, initiator="router")


def test_given_the_inventory_s_groups_only_those_it_holds_as_a_list():
    inventory_groups = {"all": [], "mpcpu_managers": ["pc"], "mpcpu_routers": ["gw"]}
    assert groups(inventory_groups, routers=True) == ["mpcpu_managers", "mpcpu_routers"]
    assert groups(inventory_groups, role="dhcp") == []
    assert groups(None, routers=True).endswith(":mpcpu_routers")
