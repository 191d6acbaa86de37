"""The snapshot store script of roles/tftp_receiver, on real files in a scratch tree.

tftpd-hpa's transfer process is played by a child process holding an fcntl write lock on
the upload, as tftpd-hpa does for the whole transfer: it closes a finished upload (lock
gone, process still there) or exits on an aborted one (lock and process gone).
"""

import importlib.util
import os
import subprocess
import sys
import time

import pytest

SCRIPT = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "roles/tftp_receiver/files/mpcpu_snapshot_store.py"
)
DEVICE = "198.51.100.10"
WRITER = (
    "import fcntl, sys\n"
    "f = open(sys.argv[1], 'r+b')\n"
    "fcntl.lockf(f, fcntl.LOCK_EX)\n"
    "print('locked', flush=True)\n"
    "if sys.stdin.readline().strip() == 'close':\n"
    "    f.close()\n"
    "    print('closed', flush=True)\n"
    "    sys.stdin.readline()\n"
)


def _load():
    spec = importlib.util.spec_from_file_location("mpcpu_snapshot_store", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


snapshot_store = _load()


@pytest.fixture
def tree(tmp_path):
    incoming = tmp_path / "incoming"
    store_root = tmp_path / "store"
    (incoming / DEVICE).mkdir(parents=True)
    (store_root / DEVICE).mkdir(parents=True)
    return incoming, store_root


def _upload(tree, name, data, age=0.0, stamp=None):
    path = tree[0] / DEVICE / name
    path.write_bytes(data)
    path.chmod(0o440)
    stamp = time.time() - age if stamp is None else stamp
    os.utime(path, (stamp, stamp))
    return path


def _stored(tree):
    return {p.name: p.read_bytes() for p in (tree[1] / DEVICE).iterdir()}


def _sweep(tree):
    snapshot_store.Store(str(tree[0]), str(tree[1])).sweep()


class Writer:
    """A process holding the upload's write lock, as tftpd-hpa's transfer process does."""

    def __init__(self, path):
        path.chmod(0o640)
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "locked"

    def close_and_linger(self):
        """fclose, then wait for a retransmitted last block: tftpd-hpa after a finished upload."""
        self.process.stdin.write("close\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "closed"

    def exit(self):
        """Exit with the file still open: tftpd-hpa giving up on an upload."""
        self.process.stdin.close()
        self.process.wait(timeout=30)


def test_a_finished_upload_moves_into_the_store_under_its_own_name(tree):
    _upload(tree, "cam01.jpg", b"picture one")
    _sweep(tree)
    assert _stored(tree) == {"cam01.jpg": b"picture one"}
    assert list((tree[0] / DEVICE).iterdir()) == []


def test_a_reused_name_is_stored_under_a_new_name_and_every_upload_is_kept(tree):
    within_one_second = int(time.time())
    for data in (b"picture one", b"picture two", b"picture three"):
        _upload(tree, "cam01.jpg", data, stamp=within_one_second)
        _sweep(tree)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(within_one_second))
    assert _stored(tree) == {
        "cam01.jpg": b"picture one",
        "cam01-%s.jpg" % stamp: b"picture two",
        "cam01-%s-2.jpg" % stamp: b"picture three",
    }


def test_stored_snapshots_are_writable_by_nobody(tree):
    _upload(tree, "cam01.jpg", b"picture one")
    _sweep(tree)
    assert (tree[1] / DEVICE / "cam01.jpg").stat().st_mode & 0o222 == 0


def test_an_empty_upload_is_removed(tree):
    _upload(tree, "cam01.jpg", b"")
    _sweep(tree)
    assert _stored(tree) == {}
    assert list((tree[0] / DEVICE).iterdir()) == []


def test_an_upload_in_progress_is_left_alone_then_stored_when_its_short_last_block_came(tree):
    path = _upload(tree, "cam01.jpg", b"half a picture")
    store = snapshot_store.Store(str(tree[0]), str(tree[1]))
    writer = Writer(path)
    try:
        store.sweep()
        assert _stored(tree) == {}
        assert path.exists()
    finally:
        writer.exit()
    store.sweep()  # 14 bytes: the last block was short, so the client finished
    assert _stored(tree) == {"cam01.jpg": b"half a picture"}


def test_whole_blocks_closed_while_the_writer_still_runs_are_a_finished_upload(tree):
    path = _upload(tree, "cam01.jpg", b"x" * 1024)
    store = snapshot_store.Store(str(tree[0]), str(tree[1]))
    writer = Writer(path)
    try:
        store.sweep()
        writer.close_and_linger()
        store.sweep()
    finally:
        writer.exit()
    assert _stored(tree) == {"cam01.jpg": b"x" * 1024}


def test_whole_blocks_whose_writer_exited_with_them_open_are_an_aborted_upload(tree):
    path = _upload(tree, "cam01.jpg", b"x" * 1024)
    store = snapshot_store.Store(str(tree[0]), str(tree[1]))
    writer = Writer(path)
    store.sweep()
    writer.exit()
    store.sweep()
    assert _stored(tree) == {}
    assert not path.exists()


def test_whole_blocks_never_seen_being_written_are_kept(tree):
    _upload(tree, "cam01.jpg", b"x" * 1024)
    _sweep(tree)
    assert _stored(tree) == {"cam01.jpg": b"x" * 1024}


def test_an_upload_that_cannot_be_stored_yet_is_tried_again(tree):
    (tree[1] / DEVICE).rmdir()
    path = _upload(tree, "cam01.jpg", b"x" * 1024)
    store = snapshot_store.Store(str(tree[0]), str(tree[1]))
    writer = Writer(path)
    store.sweep()
    writer.close_and_linger()
    store.sweep()
    writer.exit()
    (tree[1] / DEVICE).mkdir()
    store.sweep()  # the writer is gone now, but it was seen running when the upload ended
    assert _stored(tree) == {"cam01.jpg": b"x" * 1024}


def test_names_without_a_suffix_get_the_time_and_counter_at_the_end():
    names = snapshot_store.candidate_names("cam01", 0)
    assert [next(names) for _name in range(3)] == [
        "cam01",
        "cam01-19700101T000000Z",
        "cam01-19700101T000000Z-2",
    ]
