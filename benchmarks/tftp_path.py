"""TFTP over a slow, lossy path: 4 MiB writes to atftpd through benchmarks/udp_path.py.

Every client side by side in one run: ours, atftp, curl, the tftp-hpa client and tftpy, at
512-byte blocks with no options, blksize 1428, and blksize 1428 with windowsize 16 (only
atftp and ours speak windows; tftp-hpa's client no options), over paths of 20 and 80 ms
round trip with 0, 1 and 3 % loss in each direction. Every client keeps its own default
retransmission timeout (ours: 1 s at most, adaptive; the others: 5 s or so), as a user
would run it.

All transfers run at once, each through a path of its own (one relay process per path
setting, seeded alike for every client), so the whole matrix takes about as long as its
slowest transfer; a transfer still running at ``--cap`` seconds is stopped and shown as
``>cap``. Times are wall clock from starting the client's process to its exit (Python's
start-up excluded for ours and tftpy, see below). Every finished upload is checked
byte for byte. ``fastest peer/ours`` above 1: ours is faster (``>=`` where a peer was
stopped). ``ours retx``: ours' retransmissions; on a path without loss each one is false.
Wall and CPU time: around the library call for ours and tftpy (as benchmarks/tftp_client.py
does: dozens of interpreters starting at once on two CPUs would otherwise time their
start-up), around the process for the command-line clients.

    python3 benchmarks/tftp_path.py            # the full matrix: about 15 minutes
    python3 benchmarks/tftp_path.py --quick    # 20 ms, 0 and 1 %, 1 MiB: about 4 minutes
"""

import argparse
import json
import logging
import multiprocessing
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tftp_client as loopback  # noqa: E402 - the loopback benchmark: server, commands, CPU
import udp_path  # noqa: E402

LOOPBACK = loopback.LOOPBACK
CLIENTS = loopback.CLIENTS
SETTINGS = loopback.SETTINGS
SETTING_NAMES = dict(zip(("512", "1428", "window"), SETTINGS, strict=True))
FORK = multiprocessing.get_context("fork")


class Cell(typing.NamedTuple):
    rtt_ms: int
    loss_pct: float


class Job(typing.NamedTuple):
    cell: Cell
    setting: loopback.Setting
    client: str

    @property
    def remote(self):
        name = "%d-%g-%s-%s" % (
            self.cell.rtt_ms,
            self.cell.loss_pct,
            self.setting.label,
            self.client,
        )
        return "".join(c if c.isalnum() or c in "-." else "_" for c in name) + ".bin"


class Outcome(typing.NamedTuple):
    seconds: float
    cpu: float  # the client process's user + system CPU seconds
    status: str  # "done", "stopped" (at the cap) or "failed" (the client gave up)
    retransmissions: int | None  # ours only

    @property
    def finished(self):
        return self.status == "done"


def supported(client, setting):
    if setting.windowsize:
        return client in ("ours", "atftp")
    return not (client == "tftp-hpa" and setting.blksize)


def client_command(job, port, source):
    setting = job.setting
    if job.client in ("ours", "tftpy"):
        runner = ["--run-%s" % job.client, str(port), str(source), job.remote]
        sizes = [str(setting.blksize or 0), str(setting.windowsize or 0)]
        return [sys.executable, str(HERE / "tftp_path.py"), *runner, *sizes]
    run = loopback.Run(port, source, job.remote, setting)
    builders = {
        "atftp": loopback.atftp_command,
        "curl": loopback.curl_command,
        "tftp-hpa": loopback.tftp_hpa_command,
    }
    return builders[job.client](run)


# Clients run in processes of their own -----------------------------------------------------


def run_ours(port, source, remote, blksize, windowsize):
    sys.path.insert(0, str(HERE.parent / "collections"))
    from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp  # noqa: PLC0415

    client = tftp.TftpClient(
        LOOPBACK,
        port,
        blksize=blksize or None,
        windowsize=windowsize or None,
        tsize=False,
        total_timeout=None,
    )
    with open(source, "rb") as stream, loopback.Stopwatch() as watch:
        result = client.write(remote, stream)
    report(watch.sample, result.retransmissions)


def report(sample, retransmissions=None):
    """What a client process measured of itself, for ``run_job``."""
    print(json.dumps({"seconds": sample.seconds, "cpu": sample.cpu, "retx": retransmissions}))


def run_tftpy(port, source, remote, blksize, _windowsize):
    import tftpy  # noqa: PLC0415 - an optional comparison

    logging.getLogger("tftpy").setLevel(logging.CRITICAL)
    options = {"blksize": blksize} if blksize else {}
    with loopback.Stopwatch() as watch:
        tftpy.TftpClient(LOOPBACK, port, options=options).upload(remote, source)
    report(watch.sample)


# Paths -----------------------------------------------------------------------------------


def serve_paths(cell, count, server, seed, results):
    """A relay process: ``count`` paths alike for ``cell``; ports out, statistics at the end."""
    delay, loss = cell.rtt_ms / 2000, cell.loss_pct / 100
    paths = [
        udp_path.UdpPath(server, delay=delay, loss_up=loss, loss_down=loss, seed=seed)
        for _path in range(count)
    ]
    for path in paths:
        path.__enter__()
    results.send([path.port for path in paths])
    results.poll(None)  # until the parent says stop
    for path in paths:
        path.stop()
    results.send([path.stats for path in paths])


class Relays:
    """One relay process per cell, each with one path per job of that cell."""

    def __init__(self, jobs, server_port):
        self.processes, self.pipes, self.ports = [], {}, {}
        for seed, cell in enumerate(sorted({job.cell for job in jobs}), start=1):
            cell_jobs = [job for job in jobs if job.cell == cell]
            parent_end, child_end = FORK.Pipe()
            arguments = (cell, len(cell_jobs), (LOOPBACK, server_port), seed, child_end)
            process = FORK.Process(target=serve_paths, args=arguments, daemon=True)
            process.start()
            self.processes.append(process)
            self.pipes[cell] = (parent_end, cell_jobs)
            self.ports.update(zip(cell_jobs, parent_end.recv(), strict=True))

    def stop(self):
        """{job: path statistics}."""
        stats = {}
        for parent_end, cell_jobs in self.pipes.values():
            parent_end.send("stop")
            stats.update(zip(cell_jobs, parent_end.recv(), strict=True))
        for process in self.processes:
            process.join(10)
        return stats


# Running -----------------------------------------------------------------------------------


def run_job(job, command, cap_at, outcomes):
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    stopped = []
    stopper = threading.Timer(max(cap_at - started, 0), stop, (process, stopped))
    stopper.start()
    _pid, wait_status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    stopper.cancel()
    output = process.stdout.read()
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    status = "stopped" if stopped else "done" if process.returncode == 0 else "failed"
    cpu = usage.ru_utime + usage.ru_stime
    if status == "done" and job.client in ("ours", "tftpy"):
        measured = json.loads(output)
        outcomes[job] = Outcome(measured["seconds"], measured["cpu"], status, measured["retx"])
    else:
        outcomes[job] = Outcome(seconds, cpu, status, None)


def stop(process, stopped):
    stopped.append(True)
    process.send_signal(signal.SIGKILL)


def run_all(jobs, ports, source, cap):
    outcomes, threads = {}, []
    cap_at = time.monotonic() + cap
    for job in jobs:
        command = client_command(job, ports[job], source)
        thread = threading.Thread(target=run_job, args=(job, command, cap_at, outcomes))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return outcomes


def check_uploads(outcomes, root, expected):
    for job, outcome in outcomes.items():
        if not outcome.finished:
            continue
        if loopback.sha256(root / job.remote) != expected:
            raise SystemExit("%s uploaded a wrong file at %s" % (job.client, job.remote))


# Report ------------------------------------------------------------------------------------


def cell_text(outcome, cap):
    if outcome is None:
        return "n/a"
    if outcome.status == "failed":
        return "failed@%.0f" % outcome.seconds  # the client gave up after that many seconds
    return "%.1f" % outcome.seconds if outcome.finished else ">%d" % cap


def fastest_peer_ratio(found, cap):
    """The fastest peer's time over ours; ``>=`` when it is a lower bound (a peer stopped at
    the cap); peers that gave up have no time and are left out."""
    ours = found.get("ours")
    peers = [
        outcome
        for client, outcome in found.items()
        if client != "ours" and outcome and outcome.status != "failed"
    ]
    if ours is None or not ours.finished or not peers:
        return "n/a"
    fastest = min((cap, ">=") if peer.status == "stopped" else (peer.seconds, "") for peer in peers)
    return "%s%.2f" % (fastest[1], fastest[0] / ours.seconds)


def table(outcomes, cells, settings, clients, cap):
    header = ["RTT", "loss", "setting", *clients, "fastest peer/ours", "ours retx"]
    rows = [header]
    for cell in cells:
        for setting in settings:
            found = {client: outcomes.get(Job(cell, setting, client)) for client in clients}
            ours = found.get("ours")
            retransmissions = "n/a" if ours is None else str(ours.retransmissions)
            rows.append([
                "%d ms" % cell.rtt_ms, "%g %%" % cell.loss_pct, setting.label,
                *(cell_text(outcome, cap) for outcome in found.values()),
                fastest_peer_ratio(found, cap), retransmissions,
            ])  # fmt: skip
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "| %s |" % " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "|%s|" % "|".join("-" * (width + 2) for width in widths))
    return "\n".join(lines)


def cpu_table(outcomes, cells, settings):
    """Client CPU seconds of ours and atftp where both finished."""
    lines = ["| RTT | loss | setting | ours CPU | atftp CPU |", "|---|---|---|---|---|"]
    for cell in cells:
        for setting in settings:
            ours = outcomes.get(Job(cell, setting, "ours"))
            atftp = outcomes.get(Job(cell, setting, "atftp"))
            if ours and atftp and ours.finished and atftp.finished:
                lines.append(
                    "| %d ms | %g %% | %s | %.2f | %.2f |"
                    % (cell.rtt_ms, cell.loss_pct, setting.label, ours.cpu, atftp.cpu)
                )
    return "\n".join(lines)


def describe_machine(args):
    model = loopback.describe_machine(
        argparse.Namespace(placement="free", size_mib=0, repeat=1)
    ).split(";")[1]
    return "%s;%s; %s MiB writes, one run, all at once, stopped at %d s" % (
        time.strftime("%Y-%m-%d"),
        model,
        args.size_mib,
        args.cap,
    )


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="20 ms, 0 and 1 %%, 1 MiB")
    parser.add_argument("--size-mib", type=float, default=None, help="default 4 (quick: 1)")
    parser.add_argument("--cap", type=int, default=None, help="seconds (default 900, quick 240)")
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    parser.add_argument("--rtts", nargs="+", type=int, help="round trips, ms (default 20 80)")
    parser.add_argument("--losses", nargs="+", type=float, help="loss, %% (default 0 1 3)")
    parser.add_argument("--settings", nargs="+", choices=SETTING_NAMES, default=list(SETTING_NAMES))
    args = parser.parse_args()
    if args.size_mib is None:
        args.size_mib = 1 if args.quick else 4
    if args.cap is None:
        args.cap = 240 if args.quick else 900
    rtts, losses = ((20,), (0, 1)) if args.quick else ((20, 80), (0, 1, 3))
    args.cells = [Cell(rtt, loss) for rtt in args.rtts or rtts for loss in args.losses or losses]
    args.settings = [SETTING_NAMES[name] for name in args.settings]
    return args


def main():
    args = parse_arguments()
    jobs = [
        Job(cell, setting, client)
        for cell in args.cells
        for setting in args.settings
        for client in args.clients
        if supported(client, setting)
    ]
    with tempfile.TemporaryDirectory(prefix="tftp-path-bench.") as workdir:
        root = pathlib.Path(workdir) / "root"
        root.mkdir(mode=0o777)
        root.chmod(0o777)
        source = pathlib.Path(workdir) / "source.bin"
        source.write_bytes(random.Random(1).randbytes(int(args.size_mib * 1024 * 1024)))
        with loopback.atftpd(root, None) as server_port:
            relays = Relays(jobs, server_port)
            print("%d transfers at once..." % len(jobs), file=sys.stderr)
            outcomes = run_all(jobs, relays.ports, source, args.cap)
            relays.stop()
        check_uploads(outcomes, root, loopback.sha256(source))
    print(describe_machine(args))
    print("\nWall-clock seconds:\n")
    print(table(outcomes, args.cells, args.settings, args.clients, args.cap))
    print("\nClient CPU seconds:\n")
    print(cpu_table(outcomes, args.cells, args.settings))


def run_client():
    """``--run-ours`` / ``--run-tftpy PORT SOURCE REMOTE BLKSIZE WINDOWSIZE``: one upload."""
    which, port, source, remote, blksize, windowsize = sys.argv[1:7]
    runner = run_ours if which == "--run-ours" else run_tftpy
    runner(int(port), source, remote, int(blksize), int(windowsize))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("--run-ours", "--run-tftpy"):
        run_client()
    else:
        main()
