"""Command line of the lab tool.

python3 -m mpcpu_lab image [--release trixie]  build (or reuse) a cached image (default bookworm)
python3 -m mpcpu_lab up TOPOLOGY.yml   boot the hosts; prints the inventory path
python3 -m mpcpu_lab down NAME | --all tear a lab (or every lab and leftover) down
python3 -m mpcpu_lab ssh NAME HOST [COMMAND...]
python3 -m mpcpu_lab status            labs that are up and anything left behind
python3 -m mpcpu_lab boots TOPOLOGY.yml [--times N]   boot N times, count hosts not running
"""

import argparse
import json
import os
import sys

from mpcpu_lab import boots, image, lab, topology


def _parser():
    parser = argparse.ArgumentParser(prog="mpcpu_lab", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("image", help="build or reuse the cached image")
    build.add_argument("--release", choices=image.RELEASES, default=image.DEFAULT_RELEASE)
    up = commands.add_parser("up", help="boot the hosts of a topology file")
    up.add_argument("topology")
    down = commands.add_parser("down", help="tear a lab down")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true", help="every lab, and sweep leftovers")
    ssh = commands.add_parser("ssh", help="run a command on a lab host")
    ssh.add_argument("name")
    ssh.add_argument("host")
    ssh.add_argument("remote", nargs=argparse.REMAINDER)
    commands.add_parser("status", help="labs that are up and leftovers")
    repeat = commands.add_parser("boots", help="boot a topology N times, count degraded hosts")
    repeat.add_argument("topology")
    repeat.add_argument("--times", type=int, default=20)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "image":
        print(image.build(args.release))
    elif args.command == "up":
        state = lab.up(topology.load(args.topology))
        print(lab.inventory_path(state["name"]))
    elif args.command == "down":
        if args.all:
            lab.down_all()
        elif args.name:
            lab.down(args.name)
        else:
            _parser().error("down: give a lab name or --all")
    elif args.command == "ssh":
        argv = lab.ssh_argv(lab.read_state(args.name), args.host, *args.remote)
        os.execvp(argv[0], argv)
    elif args.command == "status":
        print(json.dumps(lab.leftovers(), indent=2))
    elif args.command == "boots":
        return 1 if boots.boot_many(topology.load(args.topology), args.times) else 0
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (topology.TopologyError, lab.LabError) as error:
        print("mpcpu_lab: %s" % error, file=sys.stderr)
        sys.exit(2)
