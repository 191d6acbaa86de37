"""Firewall rendering: ours against Aerleon, for 100, 1,000 and 10,000 MPCPUs, in one run.

The site: N MPCPUs on one MPCPU network (198.18.0.0/15, the benchmarking range: nothing is
ever sent to it), a router ``gw`` in gateway mode that also serves DHCP, and one CCTV server
playing every other PC part. The measured host is the router: input (DHCP), output (DHCP
answers) and forward (the six rows that cross it) chains.

- ours: compiled site model -> host policy -> nftables file (``build_host_policy`` + render);
- Aerleon: the same rules (same address sets, ports and directions; it has no conntrack
  helper and no MAC match, so the TFTP helper and the DHCP broadcast rule are left out of its
  policy) as an Aerleon policy dict plus definitions -> ``aerleon.api.Generate`` (nftables).

For each size and each file: the render time (median of --repeat runs, after a warm-up),
``nft -c`` then ``nft -f`` inside a throwaway network namespace (``unshare --net``: the
machine's ruleset is never touched), the rules nft holds after loading (``nft -j list
ruleset``) and the file's bytes. Ratios are ours/Aerleon; the target at 10,000 devices is a
render-time ratio of at most 0.2 with a rule count that stays the same for every size.

    . ~/.cache/megapower-mpcpu/venv/bin/activate
    python3 benchmarks/firewall_render.py [--sizes 100 1000 10000] [--repeat 5]

Needs root (unshare) and nft.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from aerleon import api as aerleon_api  # noqa: E402
from aerleon.lib import naming as aerleon_naming  # noqa: E402
from bench_site import ROUTER, inventory, median_seconds  # noqa: E402  (puts the collection on sys.path)

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model  # noqa: E402
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.firewall import (  # noqa: E402
    nftables,
    policy,
)

# --- ours ----------------------------------------------------------------------------------------


def render_ours(model):
    return nftables.render(policy.build_host_policy(model, ROUTER))


# --- Aerleon: the same rules as an Aerleon policy ---------------------------------------------


def _token(set_name):
    return set_name.upper()


def _service(definitions, protocol, port):
    name = "%s_%d" % (protocol.upper(), port)
    definitions["services"][name] = [{"port": str(port), "protocol": protocol}]
    return name


def _term(rule, definitions):
    term = {"name": "%s-%s" % (rule.chain, rule.row.replace("_", "-")), "action": "accept"}
    if rule.kind == policy.REPLY:
        term["name"] += "-reply"
    term["protocol"] = rule.protocol
    if rule.src:
        term["source-address"] = _token(rule.src)
    if rule.dst:
        term["destination-address"] = _token(rule.dst)
    if rule.src_port is not None:
        term["source-port"] = _service(definitions, rule.protocol, rule.src_port)
    if rule.dst_port is not None:
        term["destination-port"] = _service(definitions, rule.protocol, rule.dst_port)
    return term


def _drop_mpcpu_traffic(chain, direction):
    key = "source-address" if direction == "from" else "destination-address"
    return {
        "name": "%s-%s-mpcpu-networks-drop" % (chain, direction),
        key: _token(policy.MPCPU_NETWORKS),
        "action": "deny",
    }


def aerleon_inputs(host_policy):
    """The host policy as Aerleon's policy dict and definitions dict."""
    definitions = {"networks": {}, "services": {}}
    for address_set in host_policy["sets"].values():
        if address_set.kind == policy.MACS:
            continue
        definitions["networks"][_token(address_set.name)] = {
            "values": [{"address": element} for element in address_set.elements]
        }
    filters = []
    for chain, drops in (
        (policy.INPUT, ["from"]),
        (policy.OUTPUT, ["to"]),
        (policy.FORWARD, ["from", "to"]),
    ):
        terms = [_term(rule, definitions) for rule in policy.rules_in(host_policy, chain)]
        terms += [_drop_mpcpu_traffic(chain, direction) for direction in drops]
        header = {"targets": {"nftables": "inet %s ACCEPT" % chain}, "comment": "MPCPU"}
        filters.append({"header": header, "terms": terms})
    return {"filename": "mpcpu", "filters": filters}, definitions


def render_aerleon(policy_dict, definitions):
    names = aerleon_naming.Naming()
    names.ParseDefinitionsObject(definitions, "mpcpu")
    return aerleon_api.Generate([policy_dict], names)["mpcpu.nft"]


# --- measuring ---------------------------------------------------------------------------------


def _in_throwaway_netns(*argv):
    started = time.perf_counter()
    result = subprocess.run(
        ["unshare", "--net", *argv], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), result.stderr.strip()))
    return time.perf_counter() - started, result.stdout


def nft_numbers(text, workdir, name, repeat):
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    check = statistics.median(
        _in_throwaway_netns("nft", "-c", "-f", str(path))[0] for _round in range(repeat)
    )
    load = statistics.median(
        _in_throwaway_netns("nft", "-f", str(path))[0] for _round in range(repeat)
    )
    listing = _in_throwaway_netns("sh", "-c", 'nft -f "$1" && nft -j list ruleset', "-", str(path))[
        1
    ]
    rules = sum(1 for item in json.loads(listing)["nftables"] if "rule" in item)
    return {"check": check, "load": load, "rules": rules, "bytes": len(text.encode())}


def measure(devices, repeat, workdir):
    model = site_model.build_site(*inventory(devices))
    policy_dict, definitions = aerleon_inputs(policy.build_host_policy(model, ROUTER))
    ours_text = render_ours(model)
    aerleon_text = render_aerleon(policy_dict, definitions)
    ours = nft_numbers(ours_text, workdir, "ours-%d.nft" % devices, repeat)
    theirs = nft_numbers(aerleon_text, workdir, "aerleon-%d.nft" % devices, repeat)
    ours["render"] = median_seconds(lambda: render_ours(model), repeat)
    theirs["render"] = median_seconds(lambda: render_aerleon(policy_dict, definitions), repeat)
    return ours, theirs


def _row(devices, label, numbers):
    return "%6d  %-8s %9.1f %9.1f %9.1f %7d %10d" % (
        devices,
        label,
        numbers["render"] * 1000,
        numbers["check"] * 1000,
        numbers["load"] * 1000,
        numbers["rules"],
        numbers["bytes"],
    )


def _ratios(ours, theirs):
    return "        ours/Aerleon  render %.3f   nft -c + load %.3f   rules %.3f   bytes %.3f" % (
        ours["render"] / theirs["render"],
        (ours["check"] + ours["load"]) / (theirs["check"] + theirs["load"]),
        ours["rules"] / theirs["rules"],
        ours["bytes"] / theirs["bytes"],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        "%6s  %-8s %9s %9s %9s %7s %10s"
        % ("MPCPUs", "tool", "render ms", "nft -c ms", "load ms", "rules", "bytes")
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="fwbench-") as workdir:
        for devices in args.sizes:
            ours, theirs = measure(devices, args.repeat, pathlib.Path(workdir))
            results[devices] = (ours, theirs)
            print(_row(devices, "ours", ours))
            print(_row(devices, "aerleon", theirs))
            print(_ratios(ours, theirs))
    largest = max(results)
    ours, theirs = results[largest]
    ratio = ours["render"] / theirs["render"]
    constant = len(set(result[0]["rules"] for result in results.values())) == 1
    print(
        "at %d MPCPUs: render ratio %.3f (target <= 0.2: %s); our rule count %s across sizes"
        % (
            largest,
            ratio,
            "met" if ratio <= 0.2 else "NOT met",
            "constant" if constant else "varies",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
