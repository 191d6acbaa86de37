"""Independent TFTP clients (tftp-hpa's tftp, atftp) against the simulated device."""

import hashlib
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.interop


def run(argv, cwd):
    return subprocess.run(argv, cwd=cwd, check=False, capture_output=True, text=True, timeout=60)


@pytest.fixture
def simulator(start_simulator):
    return start_simulator("--address", "cpu001=127.0.10.1")


@pytest.mark.skipif(not shutil.which("tftp"), reason="tftp-hpa client not installed")
def test_tftp_hpa_reads_the_time_and_writes_it(simulator, tmp_path):
    port = str(simulator.port("cpu001", "time_firmware"))
    (tmp_path / "set.txt").write_bytes(b"2033-03-03T03:03:03\n")
    run(["tftp", "-m", "octet", "127.0.10.1", port, "-c", "put", "set.txt", "mpcpu_time.txt"],
        tmp_path)  # fmt: skip
    done = run(["tftp", "-m", "octet", "127.0.10.1", port, "-c", "get", "mpcpu_time.txt"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mpcpu_time.txt").read_bytes().startswith(b"2033-03-03T03:03:0")


@pytest.mark.skipif(not shutil.which("atftp"), reason="atftp client not installed")
def test_atftp_uploads_firmware_with_blksize_and_windowsize(simulator, tmp_path):
    port = str(simulator.port("cpu001", "time_firmware"))
    image = b"MPCPU-FW 4.9\n" + os.urandom(1024 * 1024)
    (tmp_path / "fw.bin").write_bytes(image)
    done = run(
        ["atftp", "--option", "blksize 1428", "--option", "windowsize 8", "--put",
         "-r", "firmware.bin", "-l", "fw.bin", "127.0.10.1", port],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run(["atftp", "--get", "-r", "firmware.version", "-l", "v.txt", "127.0.10.1", port],
               tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reported = (tmp_path / "v.txt").read_text()
    assert reported == "version=4.9\nsha256=%s\nsize=%d\n" % (
        hashlib.sha256(image).hexdigest(),
        len(image),
    )
