# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Push a firmware image to an MPCPU by TFTP write (Appendix D row ``time_firmware``).

ASSUMPTION: no public document gives the MPCPU's firmware file names. We assume the image is
written as ``firmware.bin`` and that a TFTP read of ``firmware.version`` returns lines
``version=<v>``, ``sha256=<hex>`` and ``size=<n>`` for the image the device holds. The names and
the patterns that read the report are parameters of the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import os
import re
import stat

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import checks
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu.checks import MpcpuError

DEFAULT_REMOTE_FILE = "firmware.bin"
DEFAULT_VERSION_FILE = "firmware.version"
DEFAULT_VERSION_REGEX = r"(?m)^version=(\S+)\s*$"
DEFAULT_SHA256_REGEX = r"(?m)^sha256=([0-9A-Fa-f]{64})\s*$"
DEFAULT_MAX_SIZE = 64 * 1024 * 1024
DEFAULT_BLKSIZE = (
    1428  # fills a 1500-byte Ethernet frame: 1428 + 4 TFTP + 8 UDP + 20 IPv4 + 40 spare
)
MIN_BLKSIZE, MAX_BLKSIZE = 8, 65464  # RFC 2348
MAX_WINDOWSIZE = 65535  # RFC 7440
SHA256_PATTERN = re.compile(r"^[0-9A-Fa-f]{64}$")
CHUNK = 1024 * 1024
MAX_REPORT = 4096


class Image:
    """An open, checked firmware file: its size and sha256, read once before anything is sent."""

    def __init__(self, path, fileobj, size, sha256):
        self.path = path
        self.fileobj = fileobj
        self.size = size
        self.sha256 = sha256

    def close(self):
        self.fileobj.close()


class ImageProblem(Exception):
    """Why a file is no firmware image mpcpu_firmware would send; the message names the file."""


def read_image(path, max_size):
    """``(open file, size, sha256)`` of the image at ``path``; ImageProblem says why it is unusable.

    The one reader of firmware images: the module before it sends one, and the site model's
    validation before any host is changed.
    """
    try:
        # not a with-block: the open file is handed to the caller, who closes it
        fileobj = open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise ImageProblem("cannot read %s: %s" % (path, error.strerror or error)) from None
    try:
        size = _checked_size(path, fileobj, max_size)
        digest = _sha256(path, fileobj)
        fileobj.seek(0)
    except BaseException:
        fileobj.close()
        raise
    return fileobj, size, digest


def image_sha256(path, max_size=DEFAULT_MAX_SIZE):
    """The sha256 of the image at ``path``, read as the module reads it (ImageProblem: why not)."""
    fileobj, _size, digest = read_image(path, max_size)
    fileobj.close()
    return digest


def open_image(path, max_size, expected_sha256=None):
    """Open and check ``path``; MpcpuError names ``src`` or ``sha256`` when it is unusable."""
    try:
        fileobj, size, digest = read_image(path, max_size)
    except ImageProblem as problem:
        raise MpcpuError("src: %s" % problem) from None
    if expected_sha256 is not None and digest != expected_sha256:
        fileobj.close()
        raise MpcpuError(
            "sha256: %s has sha256 %s, not the expected %s" % (path, digest, expected_sha256)
        )
    return Image(path, fileobj, size, digest)


def _checked_size(path, fileobj, max_size):
    info = os.fstat(fileobj.fileno())
    if not stat.S_ISREG(info.st_mode):
        raise ImageProblem("%s is not a regular file" % path)
    if info.st_size == 0:
        raise ImageProblem("%s is empty" % path)
    if info.st_size > max_size:
        raise ImageProblem(
            "%s is %d bytes, more than max_size (%d)" % (path, info.st_size, max_size)
        )
    return info.st_size


def _sha256(path, fileobj):
    digest = hashlib.sha256()
    try:
        for chunk in iter(lambda: fileobj.read(CHUNK), b""):
            digest.update(chunk)
    except OSError as error:
        raise ImageProblem("cannot read %s: %s" % (path, error.strerror or error)) from None
    return digest.hexdigest()


def parse_report(data, version_regex, sha256_regex):
    """{version, sha256} from the device's version file (None for what it does not say)."""
    text = data[:MAX_REPORT].decode("utf-8", "replace")
    version = re.search(version_regex, text)
    sha256 = re.search(sha256_regex, text)
    return {
        "version": version.group(1) if version else None,
        "sha256": sha256.group(1).lower() if sha256 else None,
    }


def decide(image_sha256, wanted_version, report, force):
    """(push, why): whether the device needs the image, from what it reports."""
    if force:
        return True, "force is set"
    if report is None:
        return True, "the device reports no firmware"
    # the hash names the image exactly; the version only when the device reports no hash
    for key, wanted in (("sha256", image_sha256), ("version", wanted_version)):
        held = report[key]
        if held is not None and wanted is not None:
            if held == wanted:
                return False, "the device already holds %s %s" % (key, wanted)
            return True, "the device holds %s %s" % (key, held)
    return True, "the device reports neither a sha256 nor a version to compare"


def check_params(params):
    """The module parameters, checked and cleaned; MpcpuError names the bad field."""
    clean = dict(params)
    clean["host"] = checks.address(params["host"])
    clean["port"] = checks.port(params.get("port"), "port", "time_firmware")
    clean["remote_file"] = checks.remote_name(params.get("remote_file"), "remote_file")
    clean["version_file"] = checks.remote_name(params.get("version_file"), "version_file")
    clean["max_size"] = int(checks.positive(params.get("max_size"), "max_size"))
    clean["timeout"] = checks.positive(params.get("timeout"), "timeout")
    clean["total_timeout"] = checks.positive(params.get("total_timeout"), "total_timeout")
    clean["retries"] = int(checks.positive(params.get("retries"), "retries", 0, True))
    clean["attempts"] = int(checks.positive(params.get("attempts"), "attempts", 1, True))
    clean["blksize"] = _in_range(params.get("blksize"), "blksize", MIN_BLKSIZE, MAX_BLKSIZE)
    if params.get("windowsize") is not None:
        clean["windowsize"] = _in_range(params["windowsize"], "windowsize", 1, MAX_WINDOWSIZE)
    sha256 = params.get("sha256")
    if sha256 is not None and not SHA256_PATTERN.match(str(sha256)):
        raise MpcpuError("sha256: %r is not 64 hexadecimal digits" % (sha256,))
    clean["sha256"] = None if sha256 is None else str(sha256).lower()
    for field in ("version_regex", "sha256_regex"):
        clean[field] = checks.regex(params.get(field), field).pattern
    if params.get("version") is not None and not str(params["version"]).strip():
        raise MpcpuError("version: must not be empty")
    return clean


def _in_range(value, field, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MpcpuError("%s: %r is not an integer from %d to %d" % (field, value, low, high))
    return value


class Device:
    """The MPCPU's firmware slot and version report, reached by TFTP."""

    def __init__(self, params, client_factory=None):
        self._params = params
        self._factory = client_factory or tftp.TftpClient

    def where(self):
        return "%s port %d" % (self._params["host"], self._params["port"])

    def report(self):
        """What the device says it holds; None if it refuses to give the version file."""
        params = self._params
        client = checks.new_client(
            self._factory,
            params["host"],
            port=params["port"],
            tsize=False,
            timeout=params["timeout"],
            retries=params["retries"],
        )
        content = io.BytesIO()
        try:
            client.read(params["version_file"], content)
        except tftp.TftpRemoteError:
            return None
        except tftp.TftpError as error:
            raise MpcpuError(
                "host: reading %s from %s failed: %s"
                % (params["version_file"], self.where(), error)
            ) from None
        return parse_report(content.getvalue(), params["version_regex"], params["sha256_regex"])

    def upload(self, image):
        """The client's transfer result; retried from the start when the transfer broke."""
        params = self._params
        client = checks.new_client(
            self._factory,
            params["host"],
            port=params["port"],
            blksize=params["blksize"],
            windowsize=params.get("windowsize"),
            tsize=True,
            timeout=params["timeout"],
            retries=params["retries"],
            total_timeout=params["total_timeout"],
        )
        for attempt in range(1, params["attempts"] + 1):
            image.fileobj.seek(0)
            try:
                return attempt, client.write(params["remote_file"], image.fileobj, size=image.size)
            except tftp.TftpError as error:
                failure = error
                if not error.retryable:  # a refusal or a local failure: it would repeat
                    break
        raise MpcpuError(
            "host: writing %s (%d bytes) to %s failed after %d attempt(s): %s"
            % (params["remote_file"], image.size, self.where(), attempt, failure)
        )


def _base_result(params, image, report, why):
    report = report or {"version": None, "sha256": None}
    return {
        "changed": False,
        "msg": why,
        "src": image.path,
        "remote_file": params["remote_file"],
        "sha256": image.sha256,
        "size": image.size,
        "bytes": 0,
        "duration": 0.0,
        "throughput_bytes_per_s": 0.0,
        "options": {},
        "attempts": 0,
        "device_version_before": report["version"],
        "device_sha256_before": report["sha256"],
        "device_version_after": report["version"],
        "device_sha256_after": report["sha256"],
        "diff": {
            "before": {"version": report["version"], "sha256": report["sha256"]},
            "after": {"version": report["version"], "sha256": report["sha256"]},
        },
    }


def _record_transfer(result, attempts, transfer):
    duration = float(transfer.duration)
    result.update(
        attempts=attempts,
        bytes=transfer.bytes,
        duration=round(duration, 6),
        throughput_bytes_per_s=round(transfer.bytes / duration, 1) if duration > 0 else 0.0,
        options=dict(transfer.options or {}),
        blksize=transfer.blksize,
        windowsize=transfer.windowsize,
        blocks=transfer.blocks,
        retransmissions=transfer.retransmissions,
    )


def _verify(device, params, image, result):
    report = device.report()
    if report is None:
        raise MpcpuError(
            "verify: %s gives no %s after the upload" % (device.where(), params["version_file"]),
            result,
        )
    result["device_version_after"] = report["version"]
    result["device_sha256_after"] = report["sha256"]
    result["diff"]["after"] = {"version": report["version"], "sha256": report["sha256"]}
    if report["sha256"] is not None and report["sha256"] != image.sha256:
        raise MpcpuError(
            "verify: %s reports sha256 %s after the upload, expected %s"
            % (device.where(), report["sha256"], image.sha256),
            result,
        )
    wanted = params.get("version")
    if wanted is not None and report["version"] != wanted:
        raise MpcpuError(
            "version: %s reports version %s after the upload, expected %s"
            % (device.where(), report["version"], wanted),
            result,
        )
    if report["sha256"] is None and wanted is None:
        raise MpcpuError(
            "verify: %s reports no sha256 (sha256_regex) to compare and no version was given"
            % device.where(),
            result,
        )


def _push(device, params, image, result):
    attempts, transfer = device.upload(image)
    _record_transfer(result, attempts, transfer)
    result["diff"]["after"] = {"version": params.get("version"), "sha256": image.sha256}
    if params["verify"]:
        _verify(device, params, image, result)
    return result


def run(params, check_mode=False, client_factory=None):
    """Check the image, ask the device what it holds, and send the image when it differs.

    The result carries ``diff`` ({before, after}); the module drops it unless --diff asked.
    """
    clean = check_params(params)
    image = open_image(params["src"], clean["max_size"], clean["sha256"])
    try:
        device = Device(clean, client_factory)
        report = device.report()
        push, why = decide(image.sha256, clean.get("version"), report, clean["force"])
        result = _base_result(clean, image, report, why)
        if not push:
            return result
        result["changed"] = True
        if check_mode:
            result["msg"] = "would send %d bytes (sha256 %s) to %s as %s: %s" % (
                image.size,
                image.sha256,
                device.where(),
                clean["remote_file"],
                why,
            )
            result["diff"]["after"] = {"version": clean.get("version"), "sha256": image.sha256}
            return result
        result["msg"] = "sent %d bytes to %s as %s: %s" % (
            image.size,
            device.where(),
            clean["remote_file"],
            why,
        )
        return _push(device, clean, image, result)
    finally:
        image.close()
