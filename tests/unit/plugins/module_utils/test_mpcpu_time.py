"""mpcpu_time logic: drift, formats, the set/read decision, against a fake MPCPU (no network)."""

import datetime
import io
import types

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d, mpcpu_time, tftp
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

START = 1795521600.0  # 2026-11-24T12:00:00Z
ONE_WAY = 0.004  # seconds a packet takes in the fake network


class FakeClock:
    """Wall and monotonic clocks that move only when the fake network says so."""

    def __init__(self):
        self.wall_now = START + 0.25
        self.mono_now = 5000.0

    def wall(self):
        return self.wall_now

    def monotonic(self):
        return self.mono_now

    def advance(self, seconds):
        self.wall_now += seconds
        self.mono_now += seconds

    def ntp(self, offset):
        def query(server, port, timeout, clock):
            self.advance(2 * ONE_WAY)
            return offset, 2 * ONE_WAY

        return query


class FakeMpcpu:
    """The time file as the simulator serves it: the device clock truncated to the second."""

    def __init__(self, clock, offset=0.0, takes_writes=True, content=None, fails=None):
        self.clock = clock
        self.offset = offset
        self.takes_writes = takes_writes
        self.content = content
        self.fails = fails
        self.clients = []
        self.transfers = []

    def factory(self, host, **options):
        self.clients.append(dict(options, host=host))
        return FakeClient(self)

    def shown(self):
        device_now = int(self.clock.wall() + self.offset)
        return datetime.datetime.fromtimestamp(device_now, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )


class FakeClient:
    def __init__(self, device):
        self.device = device

    def read(self, remote_name, fileobj):
        device = self.device
        device.transfers.append(("read", remote_name))
        if device.fails:
            raise device.fails
        device.clock.advance(ONE_WAY)
        data = device.content if device.content is not None else (device.shown() + "\n").encode()
        device.clock.advance(ONE_WAY)
        fileobj.write(data)
        return types.SimpleNamespace(bytes=len(data), duration=2 * ONE_WAY, options={})

    def write(self, remote_name, fileobj, size=None):
        device = self.device
        text = fileobj.read().decode("ascii")
        device.transfers.append(("write", remote_name, text))
        device.clock.advance(2 * ONE_WAY)  # WRQ, ACK 0: then the data arrives
        if device.takes_writes:
            written = datetime.datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S")
            device.offset = written.replace(tzinfo=datetime.UTC).timestamp() - device.clock.wall()
        device.clock.advance(ONE_WAY)
        return types.SimpleNamespace(bytes=len(text), duration=3 * ONE_WAY, options={})


def params(**overrides):
    base = {
        "host": "127.77.0.1",
        "port": None,
        "time_file": "mpcpu_time.txt",
        "time_format": mpcpu_time.DEFAULT_TIME_FORMAT,
        "state": "set",
        "source": "controller",
        "time": None,
        "ntp_server": None,
        "ntp_port": None,
        "tolerance": 2.0,
        "verify": True,
        "timeout": 1.0,
        "retries": 5,
    }
    base.update(overrides)
    return base


@pytest.fixture
def clock():
    return FakeClock()


def run(clock, device, check_mode=False, ntp_offset=0.0, **overrides):
    return mpcpu_time.run(
        params(**overrides),
        check_mode=check_mode,
        client_factory=device.factory,
        clocks=(clock.wall, clock.monotonic, clock.ntp(ntp_offset)),
    )


# --- time formats -------------------------------------------------------------------------


def test_default_format_is_the_documented_assumption():
    time_format = mpcpu_time.TimeFormat(mpcpu_time.DEFAULT_TIME_FORMAT)
    assert time_format.render(START + 0.9) == "2026-11-24T12:00:00\n"
    assert time_format.parse(b"2026-11-24T12:00:00\r\n") == START
    assert time_format.resolution == 1.0


def test_a_site_format_round_trips():
    time_format = mpcpu_time.TimeFormat("%d.%m.%Y %H:%M:%S")
    assert time_format.parse(time_format.render(START).encode()) == START


def test_microsecond_format_has_microsecond_resolution():
    time_format = mpcpu_time.TimeFormat("%Y-%m-%dT%H:%M:%S.%f")
    assert time_format.resolution == 1e-6
    assert time_format.parse(b"2026-11-24T12:00:00.250000") == START + 0.25


@pytest.mark.parametrize(
    "pattern", ["%Y-%m-%d %H:%M", "%H:%M:%S", "no fields", "%Y-%m-%dT%H:%M:%S\u00e9"]
)
def test_format_that_loses_the_time_is_refused_naming_time_format(pattern):
    with pytest.raises(MpcpuError, match=r"^time_format: "):
        mpcpu_time.TimeFormat(pattern)


def test_explicit_time_accepts_a_trailing_z():
    assert mpcpu_time.parse_explicit("2026-11-24T12:00:00") == START
    assert mpcpu_time.parse_explicit("2026-11-24T12:00:00Z") == START


@pytest.mark.parametrize(
    "text", ["2026-11-24 12:00", "24.11.2026", "", None, "2026-13-01T00:00:00"]
)
def test_bad_explicit_time_is_refused_naming_time(text):
    with pytest.raises(MpcpuError, match=r"^time: .* is not YYYY-MM-DDTHH:MM:SS \(UTC\)"):
        mpcpu_time.parse_explicit(text)


# --- drift --------------------------------------------------------------------------------


def test_drift_compares_the_middle_of_the_shown_second_with_the_middle_of_the_exchange():
    # shows 12:00:00 (really 12:00:00.0 to .999), asked at .2, answered at .4
    assert mpcpu_time.drift(START, 1.0, START + 0.2, START + 0.4) == pytest.approx(0.2)


def test_drift_is_negative_when_the_device_is_behind():
    assert mpcpu_time.drift(START - 120, 1.0, START, START) == pytest.approx(-119.5)


@pytest.mark.parametrize(
    ("drift", "tolerance", "expected"),
    [(0.0, 2, False), (2.0, 2, False), (-2.0, 2, False), (2.001, 2, True), (-30, 2, True)],
)
def test_only_a_drift_beyond_the_tolerance_needs_setting(drift, tolerance, expected):
    assert mpcpu_time.needs_setting(drift, tolerance) is expected


def test_explicit_reference_runs_on_from_the_given_time():
    clock = FakeClock()
    reference = mpcpu_time.ReferenceClock(START, wall=clock.wall, monotonic=clock.monotonic)
    clock.advance(3.5)
    assert reference.now() == START + 3.5


def test_ntp_reference_is_the_local_clock_plus_the_servers_offset():
    clock = FakeClock()
    reference = mpcpu_time.ReferenceClock(offset=-42.0, wall=clock.wall, monotonic=clock.monotonic)
    assert reference.now() == clock.wall() - 42.0


# --- parameters ---------------------------------------------------------------------------


def test_bad_host_is_refused_naming_the_field():
    with pytest.raises(MpcpuError) as error:
        mpcpu_time.check_params(params(host="198.51.100.300"))
    assert str(error.value) == "host: '198.51.100.300' is not an IPv4 or IPv6 address"


def test_ipv6_host_is_accepted():
    assert mpcpu_time.check_params(params(host="2001:db8::10"))["host"] == "2001:db8::10"


def test_default_port_comes_from_appendix_d():
    clean = mpcpu_time.check_params(params())
    assert clean["port"] == appendix_d.row("time_firmware").mpcpu_port


def test_programmed_port_overrides_the_table():
    assert mpcpu_time.check_params(params(port=6969))["port"] == 6969


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"port": 0}, r"^port: 0 is not a port number from 1 to 65535$"),
        ({"port": 70000}, r"^port: 70000 is not a port number"),
        ({"tolerance": -1}, r"^tolerance: -1 must be at least 0"),
        ({"tolerance": 0.5}, r"^tolerance: 0.5 is below the resolution of time_format \(1 s\)"),
        ({"timeout": 0}, r"^timeout: 0 must be greater than 0"),
        ({"retries": -1}, r"^retries: -1 must be at least 0"),
        ({"time_file": "my clock.txt"}, r"^time_file: 'my clock.txt' is not a non-empty ASCII"),
        ({"time_file": ""}, r"^time_file: "),
        ({"state": "absent"}, r"^state: 'absent' is not one of set, read$"),
        ({"source": "gps"}, r"^source: 'gps' is not one of controller, explicit, ntp$"),
        ({"source": "explicit"}, r"^time: required when source is explicit$"),
        ({"time": "2026-11-24T12:00:00"}, r"^time: only used when source is explicit"),
        ({"source": "ntp"}, r"^ntp_server: required when source is ntp$"),
        ({"source": "ntp", "ntp_server": "ntp.example"}, r"^ntp_server: 'ntp.example' is not an"),
        ({"ntp_server": "127.0.0.1"}, r"^ntp_server: only used when source is ntp"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(overrides, message):
    with pytest.raises(MpcpuError, match=message):
        mpcpu_time.check_params(params(**overrides))


def test_time_client_asks_for_no_options_so_there_is_no_oack_round_trip(clock):
    device = FakeMpcpu(clock)
    run(clock, device)
    assert device.clients == [
        {"host": "127.77.0.1", "port": 69, "tsize": False, "timeout": 1.0, "retries": 5}
    ]


# --- run ----------------------------------------------------------------------------------


def test_device_in_step_is_read_once_and_left_alone(clock):
    device = FakeMpcpu(clock, offset=0.3)
    result = run(clock, device)
    assert result["changed"] is False
    assert device.transfers == [("read", "mpcpu_time.txt")]
    assert abs(result["drift_seconds"]) <= 1
    assert result["device_time_before"] == result["device_time_after"] == "2026-11-24T12:00:00Z"
    assert result["reference_time"].startswith("2026-11-24T12:00:00.")


def test_device_two_minutes_behind_is_set_and_read_back(clock):
    device = FakeMpcpu(clock, offset=-120.0)
    result = run(clock, device)
    assert result["changed"] is True
    assert [transfer[0] for transfer in device.transfers] == ["read", "write", "read"]
    assert result["drift_seconds"] == pytest.approx(-119.75, abs=0.5)
    assert result["time_written"] == "2026-11-24T12:00:00"
    assert device.transfers[1][2] == "2026-11-24T12:00:00\n"
    assert abs(result["drift_after_seconds"]) <= 1
    assert result["device_time_after"] == "2026-11-24T12:00:00Z"
    assert result["diff"] == {
        "before": {"time": "2026-11-24T11:58:00Z"},
        "after": {"time": "2026-11-24T12:00:00Z"},
    }


def test_written_time_is_rounded_to_the_nearest_second(clock):
    clock.advance(0.5)  # the reference is at 12:00:00.75
    device = FakeMpcpu(clock, offset=3600)
    result = run(clock, device)
    assert result["time_written"] == "2026-11-24T12:00:01"


def test_second_run_after_a_set_changes_nothing(clock):
    device = FakeMpcpu(clock, offset=500)
    assert run(clock, device)["changed"] is True
    clock.advance(30)
    assert run(clock, device)["changed"] is False


def test_check_mode_reports_the_drift_and_writes_nothing(clock):
    device = FakeMpcpu(clock, offset=-120.0)
    result = run(clock, device, check_mode=True)
    assert result["changed"] is True
    assert device.transfers == [("read", "mpcpu_time.txt")]
    assert result["drift_seconds"] < -119
    assert result["device_time_after"] == "2026-11-24T12:00:00Z"
    assert "time_written" not in result


def test_state_read_reports_a_drift_but_never_writes(clock):
    device = FakeMpcpu(clock, offset=-120.0)
    result = run(clock, device, state="read")
    assert result["changed"] is False
    assert result["drift_seconds"] < -119
    assert device.transfers == [("read", "mpcpu_time.txt")]


def test_verify_false_skips_the_read_back(clock):
    device = FakeMpcpu(clock, offset=-120.0)
    result = run(clock, device, verify=False)
    assert [transfer[0] for transfer in device.transfers] == ["read", "write"]
    assert result["device_time_after"] == "2026-11-24T12:00:00Z"


def test_device_that_ignores_the_write_fails_the_verification(clock):
    device = FakeMpcpu(clock, offset=-120.0, takes_writes=False)
    with pytest.raises(
        MpcpuError, match=r"^host: 127.77.0.1 is still -11\d\.\d+ s off after"
    ) as error:
        run(clock, device)
    assert error.value.result["time_written"] == "2026-11-24T12:00:00"
    assert error.value.result["changed"] is True


def test_explicit_time_sets_the_device_to_that_time(clock):
    device = FakeMpcpu(clock)
    result = run(clock, device, source="explicit", time="2027-01-01T00:00:00Z")
    assert result["changed"] is True
    assert result["time_written"] == "2027-01-01T00:00:00"
    assert result["device_time_after"] == "2027-01-01T00:00:00Z"


def test_ntp_source_uses_the_servers_offset(clock):
    device = FakeMpcpu(clock, offset=-42.0)
    result = run(clock, device, source="ntp", ntp_server="127.0.0.1", ntp_offset=-42.0)
    assert result["changed"] is False
    assert result["ntp_offset_seconds"] == -42.0


def test_unreadable_time_content_is_refused_naming_time_format(clock):
    device = FakeMpcpu(clock, content=b"Tue Nov 24 12:00:00 2026\n")
    with pytest.raises(
        MpcpuError, match=r"^time_format: mpcpu_time.txt from 127.77.0.1 port 69 reads"
    ):
        run(clock, device)


def test_tftp_failure_names_host_file_and_error(clock):
    device = FakeMpcpu(clock, fails=tftp.TftpRemoteError(1, "File not found"))
    with pytest.raises(MpcpuError) as error:
        run(clock, device, time_file="clock.txt")
    assert str(error.value) == (
        "host: reading clock.txt from 127.77.0.1 port 69 failed: "
        "peer sent ERROR 1 (File not found): File not found"
    )


def test_iso_keeps_milliseconds_only_when_asked():
    assert mpcpu_time.iso(START + 0.4567) == "2026-11-24T12:00:00Z"
    assert mpcpu_time.iso(START + 0.4567, digits=3) == "2026-11-24T12:00:00.456Z"


def test_written_text_is_plain_ascii_with_one_newline(clock):
    device = FakeMpcpu(clock, offset=99)
    run(clock, device)
    written = device.transfers[1][2]
    assert io.StringIO(written).read().count("\n") == 1
    assert written.isascii()
