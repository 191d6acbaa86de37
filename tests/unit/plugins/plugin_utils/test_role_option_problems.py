"""A role run with options as parameters is refused with the site model's own messages."""

import pytest

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import role_options, site_model

from .conftest import SERVER


@pytest.mark.parametrize("role", ["firewall", "log_collector", "tftp_receiver"])
def test_the_roles_defaults_pass(role):
    assert role_options.role_option_problems(role, "h", {}) == []


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        (
            {"tftp_receiver_retention_days": 0},
            ["h: tftp_receiver_retention_days: 0 must be 1 or more (days a snapshot is kept)"],
        ),
        (
            {"tftp_receiver_retention_max_bytes": -1, "tftp_receiver_retransmit_ms": 5},
            [
                "h: tftp_receiver_retention_max_bytes: -1 must be 1 or more (bytes all "
                "snapshots may take)",
                "h: tftp_receiver_retransmit_ms: 5 must be 10 to 255000 (milliseconds)",
            ],
        ),
        (
            # the old default: uploads writable by others, which tftpd-hpa could overwrite
            {"tftp_receiver_umask": "0024"},
            [
                "h: tftp_receiver_umask: '0024' must be quoted octal like \"0227\" that drops "
                "every write bit (so tftpd-hpa can never reopen an upload to overwrite it) and o+r"
            ],
        ),
        (
            {"tftp_receiver_filename_pattern": "^[a-z ]+$"},
            [
                "h: tftp_receiver_filename_pattern: whitespace and # cannot be written in a "
                "tftpd-hpa remap rule"
            ],
        ),
        (
            {"tftp_receiver_directory": "/srv/mpcpu snapshots"},
            [
                "h: tftp_receiver_directory: '/srv/mpcpu snapshots' must be an absolute path "
                "without whitespace or shell characters"
            ],
        ),
        (
            # The argument spec expands $HOME in a path; the role would write it as given.
            {"tftp_receiver_directory": "/srv/$HOME"},
            [
                "h: tftp_receiver_directory: '/srv/$HOME' must be an absolute path "
                "without whitespace or shell characters"
            ],
        ),
        (
            {"tftp_receiver_verbosity": "loud"},
            ["h: tftp_receiver_verbosity: 'loud' is not an integer"],
        ),
    ],
)
def test_bad_tftp_receiver_options_are_named(options, problems):
    assert role_options.role_option_problems("tftp_receiver", "h", options) == problems


def test_a_quoted_number_the_role_casts_is_taken_one_it_reads_as_given_is_not():
    assert (
        role_options.role_option_problems("log_collector", "h", {"log_collector_backoff_max": "2"})
        == []
    )
    assert role_options.role_option_problems(
        "tftp_receiver", "h", {"tftp_receiver_retention_days": "90"}
    ) == ["h: tftp_receiver_retention_days: '90' is a string: write the number without quotes"]


def test_log_collector_options_are_judged_together():
    problems = role_options.role_option_problems(
        "log_collector",
        "h",
        {"log_collector_backoff_initial": 5.0, "log_collector_backoff_max": 2.0},
    )
    assert problems == [
        "h: log_collector_backoff_max: 2.0 must not be below log_collector_backoff_initial (5.0)"
    ]


def test_a_role_without_checked_options_and_options_not_a_mapping_are_refused():
    with pytest.raises(ValueError, match="'bundle' is not a role with checked options"):
        role_options.role_option_problems("bundle", "h", {})
    with pytest.raises(ValueError, match="must be a mapping, not"):
        role_options.role_option_problems("tftp_receiver", "h", ["tftp_receiver_umask"])


def test_the_inventory_gets_the_same_message_from_the_site_model(make_inventory):
    site, groups, hostvars = make_inventory()
    hostvars[SERVER]["tftp_receiver_umask"] = "0024"
    errors = site_model.site_errors(site, groups, hostvars)
    assert errors == role_options.role_option_problems(
        "tftp_receiver", SERVER, {"tftp_receiver_umask": "0024"}
    )
