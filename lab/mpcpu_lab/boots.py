"""Boot a topology again and again and count the hosts that did not reach ``running``.

    python3 -m mpcpu_lab boots TOPOLOGY.yml --times 20

A lab host must boot the same way every time; this is the check that it does.
"""

import subprocess
import time

from mpcpu_lab import lab


def _on(state, host, command):
    argv = lab.ssh_argv(state, host, command)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return result.stdout.strip() or result.stderr.strip()


def _host_report(state, host):
    """'running', or the state followed by the failed units and what they logged."""
    system = _on(state, host, "systemctl is-system-running")
    if system == "running":
        return system
    failed = _on(
        state,
        host,
        "systemctl --failed --no-legend --plain;"
        " for unit in $(systemctl --failed --no-legend --plain | cut -d' ' -f1); do"
        " journalctl -b -u $unit --no-pager -q | tail -n 3; done",
    )
    return "%s\n%s" % (system, failed)


def boot_once(topo):
    """{host: report} for the hosts of one boot that did not come up ``running``."""
    bad = {}
    with lab.running(topo) as state:
        for host in sorted(state["hosts"]):
            report = _host_report(state, host)
            if report != "running":
                bad[host] = report
    return bad


def boot_many(topo, times, say=print):
    """Boot ``times`` times; return the number of boots with a host that was not running."""
    failed = 0
    for number in range(1, times + 1):
        started = time.monotonic()
        bad = boot_once(topo)
        failed += bool(bad)
        seconds = time.monotonic() - started
        say("boot %d/%d: %s (%.1f s)" % (number, times, "not running" if bad else "ok", seconds))
        for host, report in sorted(bad.items()):
            say("  %s: %s" % (host, report.replace("\n", "\n    ")))
    say("%d of %d boots had every host running" % (times - failed, times))
    return failed
