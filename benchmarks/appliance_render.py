"""Appliance targets through Aerleon: render time and output growth for 100, 1,000, 10,000 MPCPUs.

The site: N MPCPUs on one MPCPU network (198.18.0.0/15, the benchmarking range: nothing is
ever sent), every second address so that no two MPCPUs summarise into one prefix (a site's
devices are rarely contiguous), one CCTV server on the office network playing every PC part,
DHCP served on the office network through the router's relay. Measured: the site boundary
(``policy.build_site_router_policy``).

For each size, side by side in one run:

- per appliance target: Aerleon's render of the exported policy (``aerleon.api.Generate`` on
  that target's filters, median of --repeat runs after a warm-up), the flow check
  (``appliance.check_target``: AclCheck over the target's filters; above 400 flows it samples
  the first and last MPCPU per row and PC host), the file's bytes and lines;
- the hand-written Cisco IOS ACL (``cisco_ios.render``), which keeps addresses in object groups;
- the whole appliance part of the bundle (``appliance.render_files``: export, seven renders,
  seven checks), once.

Growth is lines at N / lines at the smallest N; a target that writes named groups (address
books, address groups, object groups) grows by one line per MPCPU, one that writes one entry per
source x destination grows by one line per MPCPU per term.

    . ~/.cache/megapower-mpcpu/venv/bin/activate
    python3 benchmarks/appliance_render.py [--sizes 100 1000 10000] [--repeat 3]
"""

import argparse
import sys
import time

from bench_site import inventory as site_inventory  # noqa: E402  (puts the collection on sys.path)
from bench_site import median_seconds  # noqa: E402

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model  # noqa: E402
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (  # noqa: E402
    aerleon_export,
    appliance,
    cisco_ios,
    policy,
)

HAND_WRITTEN = "cisco_ios (ours)"


def inventory(devices):
    # Every second address, so that no two MPCPUs summarise into one prefix (a site's devices
    # are rarely contiguous); DHCP on the office network through the router's relay.
    return site_inventory(devices, spacing=2, dhcp_on_router=False)


def _once(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def measure(devices, repeat):
    model = site_model.build_site(*inventory(devices))
    boundary = policy.build_site_router_policy(model)
    names = appliance.naming_from(aerleon_export.definitions(boundary, model))
    numbers = {}
    for target in appliance.TARGETS:
        filters = aerleon_export.platform_filters(boundary, target)
        compiled = appliance.compile_target(filters, names, target)
        check_time, (results, _sampled, _count) = _once(
            lambda f=filters, t=target, c=compiled: appliance.check_target(model, boundary, t, f, c)
        )
        text = appliance.render_target(compiled, target)
        failed = [r for r in results if not r["ok"]]
        if failed:
            raise SystemExit("%s at %d MPCPUs: %d checks failed" % (target, devices, len(failed)))
        numbers[target] = {
            # parse + generate, as aclgen does for one target
            "render": median_seconds(
                lambda f=filters, t=target: appliance.render_target(
                    appliance.compile_target(f, names, t), t
                ),
                repeat,
            ),
            "check": check_time,
            "bytes": len(text.encode()),
            "lines": text.count("\n"),
        }
    ours = cisco_ios.render(boundary)
    numbers[HAND_WRITTEN] = {
        "render": median_seconds(lambda: cisco_ios.render(boundary), repeat),
        "check": None,
        "bytes": len(ours.encode()),
        "lines": ours.count("\n"),
    }
    whole = _once(lambda: appliance.render_files(model, boundary))[0]
    return numbers, whole


def _print_size(devices, numbers, whole, smallest):
    for target, n in numbers.items():
        growth = n["lines"] / smallest[target]["lines"] if smallest else 1.0
        check = "%9.1f" % (n["check"] * 1000) if n["check"] is not None else "%9s" % "-"
        print(
            "%6d  %-17s %10.1f %s %11d %9d %8.2f %8.1f"
            % (
                devices,
                target,
                n["render"] * 1000,
                check,
                n["bytes"],
                n["lines"],
                n["lines"] / devices,
                growth,
            )
        )
    print(
        "%6d  %-17s %10.1f   (export, 7 renders, 7 flow checks: the bundle's share)"
        % (devices, "all appliance", whole * 1000)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        "%6s  %-17s %10s %9s %11s %9s %8s %8s"
        % ("MPCPUs", "target", "render ms", "check ms", "bytes", "lines", "l/MPCPU", "growth")
    )
    smallest = None
    results = {}
    for devices in sorted(args.sizes):
        numbers, whole = measure(devices, args.repeat)
        results[devices] = numbers
        _print_size(devices, numbers, whole, smallest)
        smallest = smallest or numbers
    low, high = min(results), max(results)
    if low == high:
        return 0  # one size: nothing to compare it with
    print("\nlines per added MPCPU from %d to %d MPCPUs:" % (low, high))
    for target in results[high]:
        added = results[high][target]["lines"] - results[low][target]["lines"]
        print("  %-17s %6.2f" % (target, added / float(high - low)))
    print("\nrender time %d / %d MPCPUs:" % (high, low))
    for target in results[high]:
        print(
            "  %-17s %8.1f"
            % (target, results[high][target]["render"] / results[low][target]["render"])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
