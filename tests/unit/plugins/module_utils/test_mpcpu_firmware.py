"""mpcpu_firmware logic: image checks, the device's report, the push decision (fake TFTP)."""

import hashlib
import os
import types

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import (
    appendix_d,
    mpcpu_firmware,
    tftp,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

IMAGE = b"MPCPU-FW 4.2\n" + bytes(range(256)) * 4096  # about 1 MiB
IMAGE_SHA256 = hashlib.sha256(IMAGE).hexdigest()
OLD_SHA256 = hashlib.sha256(b"old").hexdigest()


class FakeMpcpu:
    """The firmware slot of the simulator's contract: a write replaces it, the report says so."""

    def __init__(self, version="4.1", sha256=OLD_SHA256, report=None, write_failures=()):
        self.version = version
        self.sha256 = sha256
        self.report_text = report
        self.write_failures = list(write_failures)
        self.clients = []
        self.transfers = []

    def factory(self, host, **options):
        self.clients.append(dict(options, host=host))
        return FakeClient(self, options)


class FakeClient:
    def __init__(self, device, options):
        self.device = device
        self.options = options

    def read(self, remote_name, fileobj):
        device = self.device
        device.transfers.append(("read", remote_name))
        if remote_name != "firmware.version":
            raise tftp.TftpRemoteError(tftp.ERR_NOT_FOUND, "File not found")
        text = device.report_text
        if text is None:
            text = "version=%s\nsha256=%s\nsize=3\n" % (device.version, device.sha256)
        fileobj.write(text.encode())

    def write(self, remote_name, fileobj, size=None):
        device = self.device
        data = fileobj.read()
        device.transfers.append(("write", remote_name, len(data), size))
        if device.write_failures:
            raise device.write_failures.pop(0)
        device.sha256 = hashlib.sha256(data).hexdigest()
        device.version = data.split(b"\n", 1)[0].split(b" ", 1)[1].decode()
        return types.SimpleNamespace(
            bytes=len(data),
            duration=0.5,
            blocks=len(data) // self.options["blksize"] + 1,
            retransmissions=0,
            options={"blksize": self.options["blksize"], "tsize": size},
            blksize=self.options["blksize"],
            windowsize=1,
        )


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "mpcpu-4.2.bin"
    path.write_bytes(IMAGE)
    return str(path)


def params(src, **overrides):
    base = {
        "host": "127.77.0.1",
        "port": None,
        "src": src,
        "version": None,
        "sha256": None,
        "force": False,
        "verify": True,
        "max_size": mpcpu_firmware.DEFAULT_MAX_SIZE,
        "remote_file": mpcpu_firmware.DEFAULT_REMOTE_FILE,
        "version_file": mpcpu_firmware.DEFAULT_VERSION_FILE,
        "version_regex": mpcpu_firmware.DEFAULT_VERSION_REGEX,
        "sha256_regex": mpcpu_firmware.DEFAULT_SHA256_REGEX,
        "blksize": mpcpu_firmware.DEFAULT_BLKSIZE,
        "windowsize": None,
        "timeout": 1.0,
        "retries": 5,
        "total_timeout": 600.0,
        "attempts": 2,
    }
    base.update(overrides)
    return base


def push(device, src, check_mode=False, **overrides):
    return mpcpu_firmware.run(params(src, **overrides), check_mode, client_factory=device.factory)


def writes(device):
    return [transfer for transfer in device.transfers if transfer[0] == "write"]


# --- the image, before anything is sent ------------------------------------------------------


def test_image_is_measured_and_hashed(image):
    checked = mpcpu_firmware.open_image(image, 2**20 * 2, IMAGE_SHA256.upper().lower())
    try:
        assert (checked.size, checked.sha256) == (len(IMAGE), IMAGE_SHA256)
        assert checked.fileobj.tell() == 0
    finally:
        checked.close()


def test_missing_image_is_refused_naming_src(tmp_path):
    missing = str(tmp_path / "nope.bin")
    with pytest.raises(MpcpuError) as error:
        mpcpu_firmware.open_image(missing, 100)
    assert str(error.value) == "src: cannot read %s: No such file or directory" % missing


def test_directory_is_refused_naming_src(tmp_path):
    with pytest.raises(MpcpuError, match=r"^src: cannot read .*: Is a directory$"):
        mpcpu_firmware.open_image(str(tmp_path), 100)


def test_unreadable_image_is_refused_naming_src(image, monkeypatch):
    # root reads any file, so the refusal of the kernel is played here; the integration test
    # drops the capability for real
    def refuse(path, mode):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(mpcpu_firmware, "open", refuse, raising=False)
    with pytest.raises(MpcpuError, match=r"^src: cannot read .*: Permission denied$"):
        mpcpu_firmware.open_image(image, 2**30)


def test_empty_image_is_refused_naming_src(tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(MpcpuError, match=r"^src: .*empty.bin is empty$"):
        mpcpu_firmware.open_image(str(empty), 100)


def test_oversized_image_is_refused_naming_src_and_max_size(image):
    with pytest.raises(MpcpuError) as error:
        mpcpu_firmware.open_image(image, len(IMAGE) - 1)
    assert str(error.value) == "src: %s is %d bytes, more than max_size (%d)" % (
        image,
        len(IMAGE),
        len(IMAGE) - 1,
    )


def test_image_of_exactly_max_size_is_accepted(image):
    mpcpu_firmware.open_image(image, len(IMAGE)).close()


def test_image_with_another_sha256_is_refused_naming_sha256(image):
    with pytest.raises(MpcpuError) as error:
        mpcpu_firmware.open_image(image, 2**30, OLD_SHA256)
    assert str(error.value) == "sha256: %s has sha256 %s, not the expected %s" % (
        image,
        IMAGE_SHA256,
        OLD_SHA256,
    )


def test_refusals_happen_before_the_device_is_asked(tmp_path):
    device = FakeMpcpu()
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(MpcpuError, match=r"^src: "):
        push(device, str(empty))
    assert device.transfers == []


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"host": "198.51.100.300"}, r"^host: '198.51.100.300' is not an IPv4 or IPv6 address$"),
        ({"sha256": "abc"}, r"^sha256: 'abc' is not 64 hexadecimal digits$"),
        ({"sha256": "g" * 64}, r"^sha256: 'g+' is not 64 hexadecimal digits$"),
        ({"blksize": 4}, r"^blksize: 4 is not an integer from 8 to 65464$"),
        ({"blksize": 65465}, r"^blksize: 65465 is not an integer from 8 to 65464$"),
        ({"windowsize": 0}, r"^windowsize: 0 is not an integer from 1 to 65535$"),
        ({"max_size": 0}, r"^max_size: 0 must be greater than 0$"),
        ({"attempts": 0}, r"^attempts: 0 must be at least 1$"),
        (
            {"version_regex": "version=\\S+"},
            r"^version_regex: .* has no group to capture the value$",
        ),
        ({"sha256_regex": "(unclosed"}, r"^sha256_regex: '\(unclosed' is not a regular expression"),
        ({"remote_file": "fw image.bin"}, r"^remote_file: "),
        ({"version_file": ""}, r"^version_file: "),
        ({"version": "  "}, r"^version: must not be empty$"),
        ({"port": 65536}, r"^port: 65536 is not a port number"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(image, overrides, message):
    with pytest.raises(MpcpuError, match=message):
        mpcpu_firmware.check_params(params(image, **overrides))


def test_default_port_comes_from_appendix_d(image):
    clean = mpcpu_firmware.check_params(params(image))
    assert clean["port"] == appendix_d.row("time_firmware").mpcpu_port


def test_expected_sha256_is_compared_case_insensitively(image):
    clean = mpcpu_firmware.check_params(params(image, sha256=IMAGE_SHA256.upper()))
    assert clean["sha256"] == IMAGE_SHA256


# --- the device's report --------------------------------------------------------------------


def test_report_in_the_assumed_format():
    data = b"version=4.2\nsha256=%s\nsize=3\n" % IMAGE_SHA256.upper().encode()
    report = mpcpu_firmware.parse_report(
        data, mpcpu_firmware.DEFAULT_VERSION_REGEX, mpcpu_firmware.DEFAULT_SHA256_REGEX
    )
    assert report == {"version": "4.2", "sha256": IMAGE_SHA256}


def test_report_in_a_site_format():
    report = mpcpu_firmware.parse_report(
        b"MPCPU\r\nFW: 4.2.1 (build 7)\r\n", r"(?m)^FW: (\S+)", r"(x)?y"
    )
    assert report == {"version": "4.2.1", "sha256": None}


def test_report_that_says_nothing():
    report = mpcpu_firmware.parse_report(
        b"\x00\xff", mpcpu_firmware.DEFAULT_VERSION_REGEX, mpcpu_firmware.DEFAULT_SHA256_REGEX
    )
    assert report == {"version": None, "sha256": None}


# --- the decision ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "report", "force", "push"),
    [
        (None, {"version": "4.2", "sha256": IMAGE_SHA256}, False, False),
        (None, {"version": "4.2", "sha256": IMAGE_SHA256}, True, True),
        (None, {"version": "4.2", "sha256": OLD_SHA256}, False, True),
        ("4.2", {"version": "4.2", "sha256": OLD_SHA256}, False, True),  # the hash decides
        ("4.2", {"version": "4.2", "sha256": None}, False, False),
        ("4.2", {"version": "4.1", "sha256": None}, False, True),
        (None, {"version": "4.2", "sha256": None}, False, True),  # nothing to compare
        (None, None, False, True),
    ],
)
def test_push_decision(wanted, report, force, push):
    decided, why = mpcpu_firmware.decide(IMAGE_SHA256, wanted, report, force)
    assert decided is push
    assert why


# --- run ------------------------------------------------------------------------------------


def test_new_image_is_sent_and_verified(image):
    device = FakeMpcpu()
    result = push(device, image)
    assert result["changed"] is True
    assert writes(device) == [("write", "firmware.bin", len(IMAGE), len(IMAGE))]
    assert device.sha256 == IMAGE_SHA256
    assert result["bytes"] == len(IMAGE)
    assert result["throughput_bytes_per_s"] == pytest.approx(len(IMAGE) / 0.5)
    assert result["options"] == {"blksize": 1428, "tsize": len(IMAGE)}
    assert result["device_version_before"] == "4.1"
    assert result["device_sha256_before"] == OLD_SHA256
    assert result["device_version_after"] == "4.2"
    assert result["device_sha256_after"] == IMAGE_SHA256
    assert result["attempts"] == 1
    assert result["diff"]["before"] == {"version": "4.1", "sha256": OLD_SHA256}
    assert result["diff"]["after"] == {"version": "4.2", "sha256": IMAGE_SHA256}


def test_clients_ask_for_options_only_for_the_image(image):
    device = FakeMpcpu()
    push(device, image, windowsize=16)
    report_client, upload_client = device.clients[0], device.clients[1]
    assert "blksize" not in report_client and report_client["tsize"] is False
    assert upload_client["blksize"] == 1428
    assert upload_client["windowsize"] == 16
    assert upload_client["tsize"] is True
    assert upload_client["total_timeout"] == 600.0


def test_second_run_sends_nothing(image):
    device = FakeMpcpu()
    push(device, image)
    result = push(device, image)
    assert result["changed"] is False
    assert len(writes(device)) == 1
    assert result["bytes"] == 0
    assert result["msg"] == "the device already holds sha256 %s" % IMAGE_SHA256


def test_force_sends_the_same_image_again(image):
    device = FakeMpcpu(version="4.2", sha256=IMAGE_SHA256)
    result = push(device, image, force=True)
    assert result["changed"] is True
    assert len(writes(device)) == 1


def test_check_mode_says_what_would_be_sent_and_sends_nothing(image):
    device = FakeMpcpu()
    result = push(device, image, check_mode=True)
    assert result["changed"] is True
    assert writes(device) == []
    assert result["msg"].startswith(
        "would send %d bytes (sha256 %s) to 127.77.0.1 port 69 as firmware.bin"
        % (len(IMAGE), IMAGE_SHA256)
    )
    assert result["diff"]["after"]["sha256"] == IMAGE_SHA256


def test_device_without_a_report_gets_the_image(image):
    device = FakeMpcpu()
    result = push(device, image, version_file="missing.txt", verify=False)
    assert result["changed"] is True
    assert result["device_version_before"] is None
    assert len(writes(device)) == 1


def test_broken_transfer_is_sent_again_from_the_start(image):
    device = FakeMpcpu(write_failures=[tftp.TftpTimeout("no ACK for block 17 after 5 retries")])
    result = push(device, image)
    assert result["attempts"] == 2
    assert [transfer[2] for transfer in writes(device)] == [len(IMAGE), len(IMAGE)]
    assert device.sha256 == IMAGE_SHA256


def test_device_refusal_is_not_retried(image):
    device = FakeMpcpu(write_failures=[tftp.TftpRemoteError(tftp.ERR_DISK_FULL, "slot full")])
    with pytest.raises(MpcpuError) as error:
        push(device, image)
    assert len(writes(device)) == 1
    assert str(error.value).startswith(
        "host: writing firmware.bin (%d bytes) to 127.77.0.1 port 69 failed after 1 attempt(s): "
        "peer sent ERROR 3" % len(IMAGE)
    )


@pytest.mark.parametrize(
    "failure",
    [
        tftp.TftpProtocolError("server 127.77.0.1:69 sent a bad OACK: raised", retryable=False),
        tftp.TftpError("TFTP write of 'firmware.bin' failed: [Errno 5] I/O error"),
    ],
    ids=["refused OACK", "local file error"],
)
def test_failure_that_would_repeat_is_not_retried(image, failure):
    device = FakeMpcpu(write_failures=[failure])
    with pytest.raises(MpcpuError, match=r"failed after 1 attempt\(s\)"):
        push(device, image, attempts=3)
    assert len(writes(device)) == 1


def test_transfer_that_keeps_breaking_fails_after_the_attempts(image):
    broken = [tftp.TftpProtocolError("bad"), tftp.TftpTimeout("gone"), tftp.TftpTimeout("gone")]
    device = FakeMpcpu(write_failures=broken)
    with pytest.raises(MpcpuError, match=r"failed after 3 attempt\(s\): gone$"):
        push(device, image, attempts=3)


def test_verify_fails_when_the_device_reports_another_hash(image):
    device = FakeMpcpu(report="version=4.2\nsha256=%s\n" % OLD_SHA256)
    with pytest.raises(MpcpuError) as error:
        push(device, image, force=True)
    assert str(error.value) == (
        "verify: 127.77.0.1 port 69 reports sha256 %s after the upload, expected %s"
        % (OLD_SHA256, IMAGE_SHA256)
    )
    assert error.value.result["bytes"] == len(IMAGE)


def test_verify_fails_when_the_device_reports_another_version(image):
    device = FakeMpcpu()
    with pytest.raises(
        MpcpuError, match=r"^version: 127.77.0.1 port 69 reports version 4.2 .* expected 4.3$"
    ):
        push(device, image, version="4.3")


def test_verify_with_version_only_reports(image):
    device = FakeMpcpu(report="version=4.2\n")
    result = push(device, image, version="4.2", force=True)
    assert result["device_version_after"] == "4.2"


def test_verify_needs_something_to_compare(image):
    device = FakeMpcpu(report="hello\n")
    with pytest.raises(
        MpcpuError, match=r"^verify: .* reports no sha256 .* and no version was given$"
    ):
        push(device, image)


def test_report_timeout_fails_before_sending(image):
    class Silent(FakeClient):
        def read(self, remote_name, fileobj):
            raise tftp.TftpTimeout("no answer after 5 retries")

    device = FakeMpcpu()
    with pytest.raises(
        MpcpuError, match=r"^host: reading firmware.version from 127.77.0.1 port 69 failed"
    ):
        mpcpu_firmware.run(
            params(image), client_factory=lambda host, **options: Silent(device, options)
        )


def test_image_file_is_closed_afterwards(image):
    before = set(os.listdir("/proc/self/fd"))
    push(FakeMpcpu(), image)
    assert set(os.listdir("/proc/self/fd")) == before
