"""Command line of the MPCPU simulator.

    python3 -m mpcpu_sim serve --address IP [--address IP ...] | --config FILE.json [...]
    python3 -m mpcpu_sim snapshot --source IP --server IP [--camera N] [--jpeg FILE]
    python3 -m mpcpu_sim email --source IP --relay IP [--name NAME] [--alarm N]
    python3 -m mpcpu_sim ntp --source IP --server IP
    python3 -m mpcpu_sim dhcp --interface IF --mac MAC

Clients print what happened as KEY=VALUE lines (or JSON with --json) and exit 1 with a
message on stderr when the exchange fails; a bad command line exits 2.
"""

import argparse
import asyncio
import json
import logging
import sys

from mpcpu_sim import faults, settings
from mpcpu_sim.clients import ClientError, alarm_email, dhcp, snapshot, sntp
from mpcpu_sim.server import BindError, Simulator
from mpcpu_sim.table import SERVED_ROWS, server_ports

LOG_FORMAT = "%(asctime)s mpcpu_sim[%(process)d] %(levelname)s %(message)s"


def _common_options(defaults):
    """-v, -q and --json, accepted before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    suppress = {} if defaults else {"default": argparse.SUPPRESS}
    common.add_argument(
        "--json", action="store_true", help="clients: print the result as JSON", **suppress
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging", **suppress)
    common.add_argument("-q", "--quiet", action="store_true", help="warnings only", **suppress)
    return common


def _add_serve(commands, common):
    serve = commands.add_parser(
        "serve", parents=[common], help="play MPCPUs (TFTP, activity log, EASY CPU)"
    )
    serve.add_argument("--config", help="JSON file: defaults, devices, faults, ports")
    serve.add_argument(
        "--address",
        action="append",
        default=[],
        help="a device: IP, NAME=IP or a range FIRST-LAST (repeatable)",
    )
    serve.add_argument("--name-prefix", help="names of unnamed devices: PREFIX001, ... (cpu)")
    serve.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a device setting for every device, e.g. rollover=1, refuse_options=blksize",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="fault rule ACTION[:KEY=VALUE...], e.g. drop:packet=data:nth=3 (repeatable)",
    )
    serve.add_argument("--ports-offset", type=int, help="added to every served port")
    serve.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="ROW=PORT",
        help="exact port for a served row (%s); 0 = kernel's choice" % ", ".join(SERVED_ROWS),
    )
    serve.add_argument(
        "--control",
        "--status-file",
        dest="status_file",
        metavar="PATH",
        help="JSON status file, rewritten as state changes (running, ports, clocks, ...)",
    )


def _add_clients(commands, common):
    shot = commands.add_parser(
        "snapshot", parents=[common], help="upload a camera JPEG by TFTP (row snapshot)"
    )
    shot.add_argument("--source", required=True, help="the device address to send from")
    shot.add_argument("--server", required=True, help="the PC's TFTP server")
    shot.add_argument("--port", type=int, help="TFTP port (default: the table's)")
    shot.add_argument("--camera", type=int, default=1)
    shot.add_argument("--jpeg", help="send this file instead of a generated image")
    shot.add_argument("--remote-name", help="default cam<NN>_<YYYYmmddTHHMMSS>.jpg")
    shot.add_argument("--blksize", type=int)
    shot.add_argument("--windowsize", type=int)
    shot.add_argument("--timeout", type=float, default=1.0)
    shot.add_argument("--retries", type=int, default=5)

    mail = commands.add_parser(
        "email", parents=[common], help="send an alarm e-mail by SMTP (row alarm_email)"
    )
    mail.add_argument("--source", required=True)
    mail.add_argument("--relay", required=True)
    mail.add_argument("--port", type=int)
    mail.add_argument("--name", default="cpu001", help="device name in the subject")
    mail.add_argument("--alarm", type=int, default=1)
    mail.add_argument("--sender")
    mail.add_argument("--recipient", action="append")
    mail.add_argument("--timeout", type=float, default=10.0)

    ntp = commands.add_parser("ntp", parents=[common], help="one SNTP query (row ntp)")
    ntp.add_argument("--source", required=True)
    ntp.add_argument("--server", required=True)
    ntp.add_argument("--port", type=int)
    ntp.add_argument("--source-port", type=int)
    ntp.add_argument("--timeout", type=float, default=2.0)

    lease = commands.add_parser(
        "dhcp", parents=[common], help="DHCP DISCOVER/REQUEST (row ip_assignment)"
    )
    lease.add_argument("--interface", required=True, help="the only interface used (required)")
    lease.add_argument("--mac", required=True)
    lease.add_argument("--hostname")
    lease.add_argument("--client-port", type=int)
    lease.add_argument("--server-port", type=int)
    lease.add_argument("--timeout", type=float, default=2.0)
    lease.add_argument("--retries", type=int, default=2)


def parser():
    top = argparse.ArgumentParser(
        prog="mpcpu_sim",
        description=__doc__.splitlines()[0],
        parents=[_common_options(defaults=True)],
    )
    commands = top.add_subparsers(dest="command", required=True)
    common = _common_options(defaults=False)
    _add_serve(commands, common)
    _add_clients(commands, common)
    return top


def _served_ports(args, document):
    overrides = dict(document.get("ports", {}))
    for item in args.port:
        row_id, sep, port = item.partition("=")
        if not sep or not port.strip().isdigit():
            raise ValueError("--port %r is not ROW=PORT" % item)
        overrides[row_id.strip()] = int(port)
    offset = args.ports_offset
    if offset is None:
        offset = int(document.get("ports_offset", 0))
    return server_ports(offset, overrides)


def serve(args):
    document = settings.load_file(args.config) if args.config else {}
    devices = settings.build_devices(
        document,
        cli_addresses=settings.expand_addresses(args.address, args.name_prefix),
        cli_settings=settings.parse_assignments(args.assignments),
        cli_faults=[faults.parse_spec(spec) for spec in args.fault],
        name_prefix=args.name_prefix,
    )
    if not devices:
        raise ValueError("no device: give --address or a --config with devices")
    simulator = Simulator(devices, _served_ports(args, document), args.status_file)
    asyncio.run(simulator.run())
    return 0


def run_client(args):
    if args.command == "snapshot":
        return snapshot.upload(
            args.source,
            args.server,
            port=args.port,
            camera=args.camera,
            jpeg_path=args.jpeg,
            name=args.remote_name,
            blksize=args.blksize,
            windowsize=args.windowsize,
            timeout=args.timeout,
            retries=args.retries,
        )
    if args.command == "email":
        return alarm_email.send(
            args.source,
            args.relay,
            args.name,
            args.alarm,
            sender=args.sender,
            recipients=args.recipient,
            port=args.port,
            timeout=args.timeout,
        )
    if args.command == "ntp":
        return sntp.query(
            args.source,
            args.server,
            port=args.port,
            source_port=args.source_port,
            timeout=args.timeout,
        )
    return dhcp.lease(
        args.interface,
        args.mac,
        hostname=args.hostname,
        client_port=args.client_port,
        server_port=args.server_port,
        timeout=args.timeout,
        retries=args.retries,
    )


def print_result(result, as_json):
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    for key, value in result.items():
        print("%s=%s" % (key, _flat(value)))


def _flat(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return ",".join("%s=%s" % item for item in sorted(value.items()))
    return value


def main(argv=None):
    args = parser().parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    try:
        if args.command == "serve":
            return serve(args)
        print_result(run_client(args), args.json)
    except (ValueError, OSError, BindError) as error:
        print("mpcpu_sim %s: %s" % (args.command, error), file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    except ClientError as error:
        print("mpcpu_sim %s: %s" % (args.command, error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
