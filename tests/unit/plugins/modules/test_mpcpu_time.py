"""megapower.mpcpu.mpcpu_time through AnsibleModule: arguments, check mode, diff, failures."""

from ansible_collections.megapower.mpcpu.plugins.modules import mpcpu_time


def test_device_behind_is_set_and_reported(runner, mpcpu):
    mpcpu.clock_offset = -3600
    result = runner.succeeds(mpcpu_time, {"host": "127.77.0.1"})
    assert result["changed"] is True
    assert mpcpu.transfers == [
        ("read", "mpcpu_time.txt"),
        ("write", "mpcpu_time.txt"),
        ("read", "mpcpu_time.txt"),
    ]
    assert result["drift_seconds"] < -3598
    assert abs(result["drift_after_seconds"]) <= 2
    assert "diff" not in result


def test_diff_is_returned_only_when_asked(runner, mpcpu):
    mpcpu.clock_offset = -3600
    result = runner.succeeds(mpcpu_time, {"host": "127.77.0.1", "_ansible_diff": True})
    assert set(result["diff"]) == {"before", "after"}
    assert result["diff"]["before"]["time"] != result["diff"]["after"]["time"]


def test_check_mode_writes_nothing(runner, mpcpu):
    mpcpu.clock_offset = 600
    result = runner.succeeds(mpcpu_time, {"host": "127.77.0.1", "_ansible_check_mode": True})
    assert result["changed"] is True
    assert mpcpu.transfers == [("read", "mpcpu_time.txt")]


def test_in_step_device_is_not_changed(runner, mpcpu):
    result = runner.succeeds(mpcpu_time, {"host": "127.77.0.1"})
    assert result["changed"] is False
    assert mpcpu.transfers == [("read", "mpcpu_time.txt")]


def test_bad_host_fails_naming_host(runner, mpcpu):
    result = runner.fails(mpcpu_time, {"host": "198.51.100.300"})
    assert result["msg"] == "host: '198.51.100.300' is not an IPv4 or IPv6 address"
    assert mpcpu.transfers == []


def test_explicit_source_needs_time(runner, mpcpu):
    result = runner.fails(mpcpu_time, {"host": "127.77.0.1", "source": "explicit"})
    assert result["msg"] == "source is explicit but all of the following are missing: time"


def test_wrong_type_is_refused_by_the_argument_spec(runner, mpcpu):
    result = runner.fails(mpcpu_time, {"host": "127.77.0.1", "tolerance": "a lot"})
    assert "tolerance" in result["msg"]


def test_unknown_option_is_refused(runner, mpcpu):
    result = runner.fails(mpcpu_time, {"host": "127.77.0.1", "clock": "now"})
    assert "Unsupported parameters" in result["msg"] and "clock" in result["msg"]
