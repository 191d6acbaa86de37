"""The snapshot receiver seen from the MPCPUs' host over the lab network (see lab.yml).

Uploads come from the MPCPU simulator's snapshot client, bound to each MPCPU address, and
from the tftp-hpa client (a real third-party client, from the host's first address, which
is mpcpu-a's); reads come from the tftp-hpa client. What landed is then looked at on the
receiver itself: the store fills as the snapshot store service moves finished uploads in.
"""

import json
import shlex
import time

import pytest
import testinfra

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

RECEIVER = "198.51.100.145"
MPCPU_A = "198.51.100.146"  # the MPCPU host's first address: tftp-hpa's source too
MPCPU_B = "198.51.100.147"
STRANGER = "198.51.100.148"  # on the same host, but no MPCPU of the site
TFTP_PORT = appendix_d.row("snapshot").pc_port
ROOT = "/srv/mpcpu-snapshots"
INCOMING = ROOT + "/.incoming"
# This scenario's tftp_receiver_retransmit_ms: tftpd-hpa gives up 63 of them after the last data.
RETRANSMIT_S = 0.2
STORE_WAIT_S = 30  # generous: the store looks several times a second
STALL_S = 8  # how long a stalled upload's client waits before it is killed
SIMULATOR = "PYTHONPATH=/opt/megapower/lab:/opt/megapower/collections python3 -m mpcpu_sim"


@pytest.fixture(scope="module")
def receiver(request):
    inventory = request.config.option.ansible_inventory
    return testinfra.get_host("ansible://receiver?ansible_inventory=%s" % inventory)


def upload(host, source, name, camera=1):
    """The simulator's snapshot upload: (exit code, result dict or stderr)."""
    result = host.run(
        "%s --json snapshot --source %s --server %s --port %d --camera %d --remote-name %s"
        % (SIMULATOR, source, RECEIVER, TFTP_PORT, camera, shlex.quote(name))
    )
    return result.rc, json.loads(result.stdout) if result.rc == 0 else result.stderr


def tftp_hpa_get(host, name):
    """Read ``name`` with the tftp-hpa client (it exits 0 even on errors: read its output)."""
    local = "/tmp/tftp-get.out"
    result = host.run(
        "rm -f %s; tftp %s %d -m binary -c get %s %s; test -s %s && echo GOT-DATA"
        % (local, RECEIVER, TFTP_PORT, shlex.quote(name), local, local)
    )
    return result.stdout + result.stderr


def tftp_hpa_put(host, local, name):
    """Upload ``local`` as ``name`` with the tftp-hpa client; its output (it exits 0 on errors)."""
    result = host.run(
        "tftp %s %d -m binary -c put %s %s" % (RECEIVER, TFTP_PORT, local, shlex.quote(name))
    )
    return result.stdout + result.stderr


def start_stalled_tftp_hpa_put(host, name, sent_bytes):
    """Start, in the background, a tftp-hpa upload whose source gives ``sent_bytes`` and then
    nothing: the client sends the WRQ and the full blocks it has, then waits until it is
    killed after STALL_S seconds (the way a device dies half-way)."""
    script = (
        "d=$(mktemp -d) && mkfifo $d/f && "
        "{ sh -c 'head -c %d /dev/urandom; exec sleep 60' > $d/f & writer=$!; } && "
        "timeout -s KILL %d tftp %s %d -m binary -c put $d/f %s; "
        "kill $writer; rm -rf $d" % (sent_bytes, STALL_S, RECEIVER, TFTP_PORT, name)
    )
    host.check_output("setsid -f sh -c %s >/dev/null 2>&1 </dev/null", script)


def wait_until(condition, seconds=STORE_WAIT_S):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def stored_sha256(receiver, path):
    """The sha256 of ``path`` once the snapshot store has put it there (None if it never does)."""
    wait_until(lambda: receiver.file(path).exists)
    return sha256_on(receiver, path)


def sha256_on(receiver, path):
    result = receiver.run("sha256sum %s", path)
    return result.stdout.split()[0] if result.rc == 0 else None


def snapshot_files(receiver):
    return set(receiver.check_output("cd %s && find . -type f | sort", ROOT).split())


def test_snapshot_lands_in_the_senders_directory_with_the_same_sha256(host, receiver):
    code, sent = upload(host, MPCPU_A, "cam01_a.jpg", camera=1)
    assert code == 0, sent
    assert stored_sha256(receiver, "%s/%s/cam01_a.jpg" % (ROOT, MPCPU_A)) == sent["sha256"]
    assert sha256_on(receiver, "%s/%s/cam01_a.jpg" % (ROOT, MPCPU_B)) is None


def test_second_mpcpu_address_writes_only_to_its_own_directory(host, receiver):
    code, sent = upload(host, MPCPU_B, "cam02_b.jpg", camera=2)
    assert code == 0, sent
    assert stored_sha256(receiver, "%s/%s/cam02_b.jpg" % (ROOT, MPCPU_B)) == sent["sha256"]
    assert sha256_on(receiver, "%s/%s/cam02_b.jpg" % (ROOT, MPCPU_A)) is None


def test_snapshots_are_owned_by_tftp_unreadable_to_others_and_writable_by_nobody(receiver):
    listing = receiver.check_output("stat -c '%%U %%a %%n' %s/%s/cam01_a.jpg", ROOT, MPCPU_A)
    owner, mode, _name = listing.split()
    assert owner == "tftp"
    assert int(mode, 8) & 0o004 == 0, listing
    assert int(mode, 8) & 0o222 == 0, listing  # not even tftpd-hpa could reopen it to write
    directory = receiver.file("%s/%s" % (ROOT, MPCPU_A))
    assert directory.user == "tftp" and directory.mode == 0o750


def test_the_same_name_uploaded_twice_keeps_both_byte_identical(host, receiver):
    """The issue's case: 5,142 bytes, then 12 bytes under the same name, from tftp-hpa."""
    sent = {}
    for size in (5142, 12):
        local = "/tmp/dup-%d.jpg" % size
        host.check_output("head -c %s /dev/urandom > %s", str(size), local)
        sent[size] = host.check_output("sha256sum %s", local).split()[0]
        output = tftp_hpa_put(host, local, "dup.jpg")
        assert "rror" not in output, output
        # The second upload must not race the first one's move into the store.
        assert wait_until(lambda: not receiver.file("%s/%s/dup.jpg" % (INCOMING, MPCPU_A)).exists)
    device_dir = "%s/%s" % (ROOT, MPCPU_A)
    assert wait_until(lambda: len(receiver.run("ls %s/dup*.jpg", device_dir).stdout.split()) == 2)
    stored = receiver.check_output("sha256sum %s/dup*.jpg", device_dir).splitlines()
    by_name = {line.split()[1].rsplit("/", 1)[1]: line.split()[0] for line in stored}
    assert by_name.pop("dup.jpg") == sent[5142], stored
    ((renamed, digest),) = by_name.items()
    assert renamed.startswith("dup-") and renamed.endswith(".jpg"), renamed
    assert digest == sent[12], stored
    modes = receiver.check_output("stat -c %%a %s/dup*.jpg", device_dir).split()
    assert all(int(mode, 8) & 0o222 == 0 for mode in modes), modes


@pytest.mark.parametrize(
    ("name", "sent_bytes"),
    # Whole 512-byte blocks: a pipe hands the client what it has, and a short block would
    # end the transfer as complete.
    [("empty_upload.jpg", 0), ("aborted_upload.jpg", 5 * 512)],
    ids=["starts-and-sends-nothing", "stops-half-way"],
)
def test_an_empty_or_aborted_upload_leaves_no_file(host, receiver, name, sent_bytes):
    in_transit = "%s/%s/%s" % (INCOMING, MPCPU_A, name)
    start_stalled_tftp_hpa_put(host, name, sent_bytes)
    # The upload did start: while the client waits, tftpd-hpa holds what it got.
    assert wait_until(
        lambda: receiver.run("stat -c %%s %s", in_transit).stdout.strip() == str(sent_bytes),
        STALL_S - 1,
    ), receiver.run("ls -la %s/%s", INCOMING, MPCPU_A).stdout
    gives_up_after = 63 * RETRANSMIT_S
    assert wait_until(
        lambda: not receiver.file(in_transit).exists, STALL_S + gives_up_after + STORE_WAIT_S
    )
    stem = name.rsplit(".", 1)[0]
    assert receiver.run("ls %s/%s/%s*", ROOT, MPCPU_A, stem).stdout == ""
    journal = receiver.check_output("journalctl -u mpcpu-snapshot-store --no-pager -o cat")
    assert "removed %s/%s" % (MPCPU_A, name) in journal, journal


def test_address_that_is_no_mpcpu_cannot_upload(host, receiver):
    before = snapshot_files(receiver)
    code, error = upload(host, STRANGER, "cam03_x.jpg")
    assert code != 0
    assert "Access denied" in error or "not found" in error.lower(), error
    assert snapshot_files(receiver) == before


@pytest.mark.parametrize(
    "name",
    [
        "../%s/evil.jpg" % MPCPU_B,
        "../evil.jpg",
        "..",
        "%s/../evil.jpg" % MPCPU_A,
        "/etc/evil.jpg",
        "/srv/mpcpu-snapshots/%s/evil.jpg" % MPCPU_B,
        "..\\evil.jpg",
    ],
)
def test_path_traversal_and_absolute_names_are_refused(host, receiver, name):
    before = snapshot_files(receiver)
    code, error = upload(host, MPCPU_A, name)
    assert code != 0, "upload of %r was accepted" % name
    assert "Access denied" in error, error
    assert snapshot_files(receiver) == before
    assert receiver.run("find / -xdev -name 'evil*.jpg' -print -quit").stdout == ""


@pytest.mark.parametrize(
    "name",
    [
        "cam02_b.jpg",  # the other device's file, by its plain name
        "%s/cam02_b.jpg" % MPCPU_B,  # ... by its path under the root
        "../%s/cam02_b.jpg" % MPCPU_B,  # ... from inside the reader's own directory
        "cam01_a.jpg",  # the reader's own file
        "%s/cam01_a.jpg" % MPCPU_A,
    ],
)
def test_every_read_request_is_refused(host, name):
    output = tftp_hpa_get(host, name)
    assert "Error code 2: Access denied" in output, output
    assert "GOT-DATA" not in output


def test_retention_deletes_snapshots_beyond_age_then_oldest_beyond_size(receiver):
    # Limits of this scenario: 7 days, 1,000,000 bytes for all snapshots together.
    device_dir = "%s/%s" % (ROOT, MPCPU_B)
    plant = {
        "old.jpg": (1000, "10 days ago"),
        "big-3h.jpg": (400000, "3 hours ago"),
        "big-2h.jpg": (400000, "2 hours ago"),
        "big-1h.jpg": (400000, "1 hour ago"),
    }
    for name, (size, age) in plant.items():
        path = "%s/%s" % (device_dir, name)
        receiver.check_output(
            "head -c %s /dev/urandom > %s && touch -d %s %s && chown tftp:tftp %s",
            str(size),
            path,
            age,
            path,
            path,
        )
    assert receiver.run("systemctl is-enabled mpcpu-snapshot-retention.timer").stdout.strip() == (
        "enabled"
    )
    assert receiver.run("systemctl is-active mpcpu-snapshot-retention.timer").rc == 0

    ran = receiver.run("systemctl start mpcpu-snapshot-retention.service")
    assert ran.rc == 0, ran.stderr

    kept = snapshot_files(receiver)
    assert not kept & {"./%s/old.jpg" % MPCPU_B, "./%s/big-3h.jpg" % MPCPU_B}, kept
    assert {
        "./%s/cam01_a.jpg" % MPCPU_A,
        "./%s/cam02_b.jpg" % MPCPU_B,
        "./%s/big-2h.jpg" % MPCPU_B,
        "./%s/big-1h.jpg" % MPCPU_B,
    } <= kept
    total = int(receiver.check_output("du -cb --apparent-size %s/*/* | tail -1 | cut -f1", ROOT))
    assert total <= 1000000
