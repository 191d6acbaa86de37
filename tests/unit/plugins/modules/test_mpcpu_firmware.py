"""megapower.mpcpu.mpcpu_firmware through AnsibleModule: refusals name the field, idempotence."""

import hashlib

import pytest

from ansible_collections.megapower.mpcpu.plugins.modules import mpcpu_firmware

IMAGE = b"MPCPU-FW 4.2\n" + b"\xa5" * 100000


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "fw.bin"
    path.write_bytes(IMAGE)
    return str(path)


def test_image_is_pushed_then_left_alone(runner, mpcpu, image):
    first = runner.succeeds(mpcpu_firmware, {"host": "127.77.0.1", "src": image, "version": "4.2"})
    second = runner.succeeds(mpcpu_firmware, {"host": "127.77.0.1", "src": image, "version": "4.2"})
    assert first["changed"] is True
    assert first["bytes"] == len(IMAGE)
    assert first["device_sha256_after"] == hashlib.sha256(IMAGE).hexdigest()
    assert second["changed"] is False
    assert [transfer[0] for transfer in mpcpu.transfers].count("write") == 1


def test_check_mode_says_what_would_be_sent(runner, mpcpu, image):
    result = runner.succeeds(
        mpcpu_firmware, {"host": "127.77.0.1", "src": image, "_ansible_check_mode": True}
    )
    assert result["changed"] is True
    assert result["msg"].startswith(
        "would send %d bytes (sha256 %s)" % (len(IMAGE), hashlib.sha256(IMAGE).hexdigest())
    )
    assert ("write", "firmware.bin") not in mpcpu.transfers


def test_bad_sha256_fails_naming_sha256_and_sends_nothing(runner, mpcpu, image):
    result = runner.fails(mpcpu_firmware, {"host": "127.77.0.1", "src": image, "sha256": "0" * 64})
    assert result["msg"].startswith("sha256: %s has sha256 " % image)
    assert mpcpu.transfers == []


def test_empty_file_fails_naming_src(runner, mpcpu, tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    result = runner.fails(mpcpu_firmware, {"host": "127.77.0.1", "src": str(empty)})
    assert result["msg"] == "src: %s is empty" % empty


def test_src_is_required(runner, mpcpu):
    result = runner.fails(mpcpu_firmware, {"host": "127.77.0.1"})
    assert result["msg"] == "missing required arguments: src"


def test_failed_verification_keeps_the_transfer_figures(runner, mpcpu, image, monkeypatch):
    result = runner.fails(
        mpcpu_firmware,
        {"host": "127.77.0.1", "src": image, "version": "9.9"},
    )
    assert result["msg"].startswith("version: 127.77.0.1 port 69 reports version 4.2")
    assert result["bytes"] == len(IMAGE)
    assert result["changed"] is True
