"""The seven rows of Appendix D, pinned to the guide (p. 68)."""

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

GUIDE = [
    # id, protocol, MPCPU port, PC port, who listens
    ("activity_logging", "tcp", 514, None, appendix_d.MPCPU),
    ("easy_cpu", "udp", 4001, None, appendix_d.MPCPU),
    ("snapshot", "udp", None, 69, appendix_d.PC),
    ("time_firmware", "udp", 69, None, appendix_d.MPCPU),
    ("ntp", "udp", 123, 123, appendix_d.PC),
    ("alarm_email", "tcp", None, 25, appendix_d.PC),
    ("ip_assignment", "udp", 68, 67, appendix_d.PC),
]


def test_table_has_the_guides_seven_rows_in_order():
    assert [row.id for row in appendix_d.ROWS] == [entry[0] for entry in GUIDE]


@pytest.mark.parametrize(("row_id", "protocol", "mpcpu_port", "pc_port", "listener"), GUIDE)
def test_row_matches_the_guide(row_id, protocol, mpcpu_port, pc_port, listener):
    row = appendix_d.row(row_id)
    assert (row.protocol, row.mpcpu_port, row.pc_port, row.listener) == (
        protocol,
        mpcpu_port,
        pc_port,
        listener,
    )


@pytest.mark.parametrize(
    ("row_id", "initiator"),
    [
        ("activity_logging", "pc"),  # the collector connects to the MPCPU's 514
        ("easy_cpu", "pc"),
        ("snapshot", "mpcpu"),  # the MPCPU uploads to the PC's TFTP server
        ("time_firmware", "pc"),  # the PC is the TFTP client of the MPCPU
        ("ntp", "mpcpu"),
        ("alarm_email", "mpcpu"),
        ("ip_assignment", "mpcpu"),
    ],
)
def test_the_side_that_does_not_listen_starts(row_id, initiator):
    assert appendix_d.initiator(appendix_d.row(row_id)) == initiator


def test_only_the_tftp_rows_need_the_tftp_helper():
    tftp_rows = [row.id for row in appendix_d.ROWS if row.application == "tftp"]
    assert tftp_rows == ["snapshot", "time_firmware"]


def test_each_pc_part_plays_exactly_one_row():
    assert len(set(appendix_d.PC_PARTS)) == len(appendix_d.ROWS)


def test_unknown_row_names_the_known_ones():
    with pytest.raises(KeyError, match="activity_logging"):
        appendix_d.row("telnet")


def test_programmed_ports_replace_only_what_is_given():
    row = appendix_d.with_ports(appendix_d.row("activity_logging"), mpcpu_port=5140)
    assert (row.mpcpu_port, row.pc_port, row.protocol) == (5140, None, "tcp")
    assert appendix_d.row("activity_logging").mpcpu_port == 514
