"""The snapshot store script of roles/tftp_receiver, on real files in a scratch tree.

tftpd-hpa's write lock is played by a child process holding an fcntl lock, as tftpd-hpa's
transfer process does for the whole upload.
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
ABORTED_AFTER = 31.0


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


def _sweep(tree, first=False):
    snapshot_store.Store(str(tree[0]), str(tree[1]), ABORTED_AFTER).sweep(first=first)


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


def test_an_upload_whose_data_stopped_long_before_it_ended_is_removed(tree):
    _upload(tree, "cam01.jpg", b"x" * 1024, age=ABORTED_AFTER + 30)
    _sweep(tree)
    assert _stored(tree) == {}
    assert list((tree[0] / DEVICE).iterdir()) == []


def test_an_upload_found_at_start_is_kept_because_its_end_was_not_seen(tree):
    _upload(tree, "cam01.jpg", b"x" * 1024, age=ABORTED_AFTER + 30)
    _upload(tree, "cam02.jpg", b"")
    _sweep(tree, first=True)
    assert _stored(tree) == {"cam01.jpg": b"x" * 1024}


def test_an_upload_in_progress_is_left_alone(tree):
    path = _upload(tree, "cam01.jpg", b"half a picture")
    path.chmod(0o640)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'r+b'); fcntl.lockf(f, fcntl.LOCK_EX);"
            " print('locked', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        _sweep(tree)
        assert _stored(tree) == {}
        assert path.exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    _sweep(tree)
    assert _stored(tree) == {"cam01.jpg": b"half a picture"}


def test_an_upload_that_cannot_be_stored_yet_keeps_the_time_it_was_first_seen_ended(tree):
    (tree[1] / DEVICE).rmdir()
    _upload(tree, "cam01.jpg", b"picture one", age=ABORTED_AFTER - 1)
    store = snapshot_store.Store(str(tree[0]), str(tree[1]), ABORTED_AFTER)
    store.sweep()
    (tree[1] / DEVICE).mkdir()
    store.sweep(now=time.time() + 60)  # later than the limit, but the end was seen in time
    assert _stored(tree) == {"cam01.jpg": b"picture one"}


def test_names_without_a_suffix_get_the_time_and_counter_at_the_end():
    names = snapshot_store.candidate_names("cam01", 0)
    assert [next(names) for _ in range(3)] == [
        "cam01",
        "cam01-19700101T000000Z",
        "cam01-19700101T000000Z-2",
    ]
