"""TFTP client benchmark: one write of 32 MiB to atftpd on loopback, every client side by side.

Clients: ours (``plugins/module_utils/tftp.py``), atftp, curl, the tftp-hpa client and tftpy,
at three settings: 512-byte blocks with no options, blksize 1428, and blksize 1428 with
windowsize 16 (only atftp and ours speak RFC 7440 windows; "n/a" where a client cannot).
Runs are interleaved (each repetition runs every client once) and the table shows medians,
plus the ratios ours/atftp (below 1: ours is faster) and tftpy/ours (above 1: ours is faster).

In-process clients (ours, tftpy) are timed around the library call; command-line clients
around the process, which adds its start-up (a few milliseconds for the C clients).
By default the server and every client share one CPU: a lock-step transfer is then paced
by per-packet CPU cost, not by how fast an idle second CPU wakes up (which dominates on a
2-core VM and varies from run to run); ``--placement spread`` puts them on two CPUs.

    python3 benchmarks/tftp_client.py [--repeat 5] [--size-mib 32] [--placement same]
"""

import argparse
import contextlib
import hashlib
import logging
import os
import pathlib
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

import tftp_peers  # noqa: E402  (tests/: the servers the interop tests run)

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp  # noqa: E402

LOOPBACK = "127.0.0.1"
CLIENTS = ("ours", "atftp", "curl", "tftp-hpa", "tftpy")


class Setting(typing.NamedTuple):
    label: str
    blksize: int | None  # None: no options at all, 512-byte blocks
    windowsize: int | None


SETTINGS = (
    Setting("512, no options", None, None),
    Setting("blksize 1428", 1428, None),
    Setting("blksize 1428, windowsize 16", 1428, 16),
)


class Sample(typing.NamedTuple):
    seconds: float  # wall clock
    cpu: float  # the client's user + system CPU seconds
    user: float  # the client's user CPU seconds: the part an implementation controls


class Stopwatch:
    """Wall time and CPU time of the block: of this process, or of the children it waited for."""

    def __init__(self, children=False):
        self.who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
        self.sample = None

    def __enter__(self):
        self.before, self.started = resource.getrusage(self.who), time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        seconds = time.perf_counter() - self.started
        after = resource.getrusage(self.who)
        user = after.ru_utime - self.before.ru_utime
        system = after.ru_stime - self.before.ru_stime
        self.sample = Sample(seconds, user + system, user)


class Run(typing.NamedTuple):
    port: int
    source: pathlib.Path
    remote: str
    setting: Setting


def ours(run):
    client = tftp.TftpClient(
        LOOPBACK,
        run.port,
        blksize=run.setting.blksize,
        windowsize=run.setting.windowsize,
        tsize=False,
        total_timeout=600,
    )
    with run.source.open("rb") as source, Stopwatch() as watch:
        client.write(run.remote, source)
    return watch.sample


def tftpy_client(run):
    if run.setting.windowsize:
        return None
    import tftpy  # noqa: PLC0415 - an optional comparison, imported only when measured

    options = {"blksize": run.setting.blksize} if run.setting.blksize else {}
    client = tftpy.TftpClient(LOOPBACK, run.port, options=options)
    with Stopwatch() as watch:
        client.upload(run.remote, str(run.source))
    return watch.sample


def atftp_command(run):
    options = []
    if run.setting.blksize:
        options += ["--option", "blksize %d" % run.setting.blksize]
    if run.setting.windowsize:
        options += ["--option", "windowsize %d" % run.setting.windowsize]
    return [
        "atftp",
        *options,
        "-p",
        "-l",
        str(run.source),
        "-r",
        run.remote,
        LOOPBACK,
        str(run.port),
    ]


def curl_command(run):
    if run.setting.windowsize:
        return None
    url = "tftp://%s:%d/%s" % (LOOPBACK, run.port, run.remote)
    if run.setting.blksize:
        options = ["--tftp-blksize", str(run.setting.blksize)]
    else:
        options = ["--tftp-no-options"]
    return ["curl", "--silent", "--show-error", *options, "-T", str(run.source), url]


def tftp_hpa_command(run):
    if run.setting.blksize or run.setting.windowsize:
        return None  # the tftp-hpa client negotiates no options
    put = "put %s %s" % (run.source, run.remote)
    return ["tftp", "-m", "binary", LOOPBACK, str(run.port), "-c", *put.split()]


def timed_command(command_for):
    def measure(run):
        command = command_for(run)
        if command is None:
            return None
        with Stopwatch(children=True) as watch:
            subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True)
        return watch.sample

    return measure


MEASURE = {
    "ours": ours,
    "atftp": timed_command(atftp_command),
    "curl": timed_command(curl_command),
    "tftp-hpa": timed_command(tftp_hpa_command),
    "tftpy": tftpy_client,
}


def pin(cpus):
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


@contextlib.contextmanager
def atftpd(root, server_cpus):
    """The port of an atftpd serving ``root``, once it answers."""

    def command(port):
        return tftp_peers.atftpd_command("atftpd", port, root, LOOPBACK, "/dev/null")

    pin(server_cpus)  # the daemon inherits the affinity; the clients are pinned after
    try:
        with tftp_peers.running(command, root.parent / "atftpd.log", LOOPBACK) as (port, _server):
            yield port
    except tftp_peers.NotStarted as error:
        raise SystemExit("atftpd %s" % error) from None


def placement_cpus(placement):
    """(client CPUs, server CPUs) for a placement."""
    cpus = sorted(os.sched_getaffinity(0))
    if placement == "same":
        return {cpus[0]}, {cpus[0]}
    if placement == "spread" and len(cpus) > 1:
        return {cpus[0]}, {cpus[1]}
    return None, None


def sha256(path):
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def measure_all(args, root, source, port):
    """{(setting label, client): [Sample, ...]}; every upload is checked on the server."""
    expected = sha256(source)
    samples = {}
    for repetition in range(args.repeat):
        for setting in SETTINGS:
            for client in args.clients:
                remote = "bench-%s.bin" % client
                sample = MEASURE[client](Run(port, source, remote, setting))
                if sample is None:
                    continue
                uploaded = root / remote
                if repetition == 0 and sha256(uploaded) != expected:
                    raise SystemExit("%s uploaded a wrong file at %s" % (client, setting.label))
                uploaded.unlink()
                samples.setdefault((setting.label, client), []).append(sample)
        print("repetition %d/%d done" % (repetition + 1, args.repeat), file=sys.stderr)
    return samples


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return "n/a"  # not measured, or too small for the clock
    return "%.2f" % (numerator / denominator)


def table(samples, clients, field):
    """Markdown: the median ``field`` per setting and client, and the two ratios."""
    medians = {
        key: statistics.median(getattr(sample, field) for sample in values)
        for key, values in samples.items()
    }
    header = ["setting", *clients, "ours/atftp", "tftpy/ours"]
    rows = [header]
    for setting in SETTINGS:
        found = {client: medians.get((setting.label, client)) for client in clients}
        cells = ["n/a" if value is None else "%.3f" % value for value in found.values()]
        ours_over_atftp = ratio(found.get("ours"), found.get("atftp"))
        tftpy_over_ours = ratio(found.get("tftpy"), found.get("ours"))
        rows.append([setting.label, *cells, ours_over_atftp, tftpy_over_ours])
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "| %s |" % " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "|%s|" % "|".join("-" * (width + 2) for width in widths))
    return "\n".join(lines)


def describe_machine(args):
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%s; %s, %d CPUs; Linux %s; Python %s; placement %s; %d MiB; median of %d" % (
        time.strftime("%Y-%m-%d"),
        model,
        os.cpu_count(),
        platform.release(),
        platform.python_version(),
        args.placement,
        args.size_mib,
        args.repeat,
    )


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per client and setting")
    parser.add_argument("--size-mib", type=int, default=32, help="size of the file written")
    parser.add_argument("--placement", choices=("same", "spread", "free"), default="same")
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    return parser.parse_args()


def main():
    args = parse_arguments()
    logging.getLogger("tftpy").setLevel(logging.CRITICAL)
    missing = [name for name in ("atftpd", "atftp", "curl", "tftp") if not shutil.which(name)]
    if missing:
        raise SystemExit("missing: %s (scripts/bootstrap.sh installs them)" % ", ".join(missing))
    client_cpus, server_cpus = placement_cpus(args.placement)
    with tempfile.TemporaryDirectory(prefix="tftp-bench.") as workdir:
        root = pathlib.Path(workdir) / "root"
        root.mkdir(mode=0o777)
        root.chmod(0o777)
        source = pathlib.Path(workdir) / "source.bin"
        source.write_bytes(random.Random(1).randbytes(args.size_mib * 1024 * 1024))
        with atftpd(root, server_cpus) as port:
            pin(client_cpus)
            samples = measure_all(args, root, source, port)
    print(describe_machine(args))
    print("\nWall-clock seconds (median):\n")
    print(table(samples, args.clients, "seconds"))
    print("\nClient CPU seconds, user + system (median):\n")
    print(table(samples, args.clients, "cpu"))
    print("\nClient user CPU seconds (median):\n")
    print(table(samples, args.clients, "user"))


if __name__ == "__main__":
    main()
