# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MPCPU activity-log collector: each MPCPU's log stream, once and in order, in monthly files.

Appendix D row "Activity Logging": the PC connects to the MPCPU's TCP port (514 unless
programmed otherwise) and the MPCPU streams its activity log back on that connection.

Device protocol (the project's documented assumption, docs/simulator.md): the collector sends
one request line, by default ``LOG <next_seq>`` (a device's ``request`` in the configuration,
the site's ``activity_log_request`` setting, with ``{seq}`` for next_seq; empty: nothing is
sent); the device answers with lines
``<seq> <YYYY-MM-DDTHH:MM:SS> <device-name> <event text>``, seq strictly increasing from 1,
first the buffered lines with seq >= next_seq, then live lines.

What the collector guarantees:

- every line goes to ``ADUltraCPU_<ip>_<Month>_<yyyy>.log`` in the log directory, as the
  vendor's client names its files (English month name, the collector's local clock when the
  line arrives), so the file changes every month;
- each batch of lines is written and fsynced before the device's last written seq is saved
  (atomically); on start the collector resumes after the larger of that and the last line of
  the newest file, so a restart at any instant loses no line and writes none twice;
- a line whose seq is not above the last one written is a duplicate and is dropped; a first
  line below the requested seq means the device restarted and counts from 1 again: the
  collector then re-reads the device's buffer from line 1. A device that instead holds the
  stream until the requested line exists (as the simulator does, docs/simulator.md) shows
  nothing after such a restart until its count passes the old one: the protocol gives the
  collector no way to tell that from an idle device, so the assumption is that a device's
  numbering survives its reboots;
- a dropped or refused connection is retried with capped exponential back-off and jitter;
  TCP keepalive notices a device that vanished without closing;
- monthly files older than ``retention_months`` months are deleted;
- with ``journal`` true, each record also goes to the systemd journal as one entry with
  structured fields (module ``mpcpu_journal``, on the unit's PYTHONPATH), before the files:
  a crash in between repeats an entry rather than losing one.

Standard library only (it runs on Debian 12's python3). ``--check-config FILE`` validates a
configuration and exits 0, or 1 listing every problem.
"""

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import json
import logging
import os
import random
import re
import signal
import socket
import sys
import time

LOGGER = logging.getLogger("mpcpu-log-collector")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
FILE_NAME = re.compile(r"^ADUltraCPU_(?P<ip>[0-9.]+)_(?P<month>[A-Za-z]+)_(?P<year>[0-9]{4})\.log$")
SEQ = re.compile(rb"^([0-9]{1,18})[ \t]")
MAX_LINE = 64 * 1024
TAIL_BYTES = 256 * 1024
READ_SIZE = 64 * 1024
PRUNE_EVERY = 3600.0
EX_CONFIG = 78

CONFIG_DEFAULTS = {
    "retention_months": 24,
    "backoff_initial": 1.0,
    "backoff_max": 60.0,
    "connect_timeout": 10.0,
    "keepalive_idle": 30,
    "metrics_dir": None,
    "metrics_interval": 15.0,
    "journal": False,
}
CONFIG_KEYS = ("comment", "log_dir", "state_dir", "devices") + tuple(CONFIG_DEFAULTS)
DEVICE_KEYS = ("name", "ip", "port", "source", "request")
DEFAULT_REQUEST = "LOG {seq}\r\n"


# --- configuration ---------------------------------------------------------------------------


class ConfigError(ValueError):
    """The configuration is unusable; ``problems`` lists every reason."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("invalid configuration:\n- " + "\n- ".join(self.problems))


def _ipv4(text):
    try:
        return str(ipaddress.IPv4Address(text))
    except (ipaddress.AddressValueError, ValueError, TypeError):
        return None


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_device(index, device, problems):
    where = "devices[%d]" % index
    if not isinstance(device, dict):
        problems.append("%s: a mapping with name, ip, port (and source)" % where)
        return
    problems.extend(
        "%s.%s: unknown key (known: %s)" % (where, key, ", ".join(DEVICE_KEYS))
        for key in sorted(set(device) - set(DEVICE_KEYS))
    )
    if not isinstance(device.get("name"), str) or not device.get("name"):
        problems.append("%s.name: give the MPCPU's name" % where)
    if _ipv4(device.get("ip")) is None:
        problems.append("%s.ip: %r is not an IPv4 address" % (where, device.get("ip")))
    port = device.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        problems.append("%s.port: %r is not a port number from 1 to 65535" % (where, port))
    source = device.get("source")
    if source is not None and _ipv4(source) is None:
        problems.append("%s.source: %r is not an IPv4 address" % (where, source))
    if not isinstance(device.get("request", ""), str):
        problems.append("%s.request: %r is not text" % (where, device.get("request")))


def _check_settings(config, problems):
    for key in ("log_dir", "state_dir"):
        if not isinstance(config.get(key), str) or not os.path.isabs(config.get(key)):
            problems.append("%s: %r is not an absolute path" % (key, config.get(key)))
    months = config["retention_months"]
    if not isinstance(months, int) or isinstance(months, bool) or months < 1:
        problems.append("retention_months: %r must be a whole number of 1 or more" % (months,))
    for key in ("backoff_initial", "backoff_max", "connect_timeout", "keepalive_idle"):
        if not _number(config[key]) or config[key] <= 0:
            problems.append("%s: %r must be a number above 0" % (key, config[key]))
    metrics_dir = config["metrics_dir"]
    if metrics_dir is not None and not (
        isinstance(metrics_dir, str) and os.path.isabs(metrics_dir)
    ):
        problems.append("metrics_dir: %r is not an absolute path (or null)" % (metrics_dir,))
    if not _number(config["metrics_interval"]) or config["metrics_interval"] <= 0:
        problems.append(
            "metrics_interval: %r must be a number above 0" % (config["metrics_interval"],)
        )
    if not isinstance(config["journal"], bool):
        problems.append("journal: %r must be true or false" % (config["journal"],))
    if (
        _number(config["backoff_initial"])
        and _number(config["backoff_max"])
        and config["backoff_max"] < config["backoff_initial"]
    ):
        problems.append("backoff_max: must not be below backoff_initial")


def check_config(raw):
    """The configuration with defaults filled in; ConfigError lists every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(["the configuration is a JSON object"])
    problems = [
        "%s: unknown key (known: %s)" % (key, ", ".join(CONFIG_KEYS))
        for key in sorted(set(raw) - set(CONFIG_KEYS))
    ]
    config = dict(CONFIG_DEFAULTS, **raw)
    _check_settings(config, problems)
    devices = config.get("devices")
    if not isinstance(devices, list):
        problems.append("devices: a list of {name, ip, port, source}")
        devices = []
    for index, device in enumerate(devices):
        _check_device(index, device, problems)
    addresses = [device.get("ip") for device in devices if isinstance(device, dict)]
    problems.extend(
        "devices: %s is listed %d times" % (ip, addresses.count(ip))
        for ip in sorted(set(addresses), key=str)
        if addresses.count(ip) > 1
    )
    if problems:
        raise ConfigError(problems)
    return config


def load_config(path):
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError) as error:
        raise ConfigError(["%s: %s" % (path, error)]) from None
    return check_config(raw)


# --- files -----------------------------------------------------------------------------------


def log_file_name(ip, year, month):
    """The vendor's client's name for a device's log file of one month."""
    return "ADUltraCPU_%s_%s_%04d.log" % (ip, MONTHS[month - 1], year)


def parse_log_file_name(name):
    """(ip, year, month) of a vendor log file name, or None."""
    match = FILE_NAME.match(name)
    if not match or match.group("month") not in MONTHS:
        return None
    return match.group("ip"), int(match.group("year")), MONTHS.index(match.group("month")) + 1


def line_seq(line):
    """The sequence number a line starts with, or None."""
    match = SEQ.match(line)
    return int(match.group(1)) if match else None


def _fsync_directory(path):
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_all(descriptor, data):
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _last_seq_in_tail(path):
    """The seq of the last complete line of ``path``; a partial last line is cut off first."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        start = max(0, size - TAIL_BYTES)
        handle.seek(start)
        tail = handle.read()
        if tail and not tail.endswith(b"\n"):
            complete = tail.rfind(b"\n") + 1
            if complete or start == 0:
                handle.truncate(start + complete)
                LOGGER.warning("%s: cut off a partial last line", path)
            tail = tail[:complete]
    for line in reversed(tail.splitlines()):
        seq = line_seq(line)
        if seq is not None:
            return seq
    return 0


class DeviceFiles:
    """One device's monthly log files and its saved last seq."""

    def __init__(self, log_dir, state_dir, ip, clock=time.localtime):
        self.log_dir = log_dir
        self.state_path = os.path.join(state_dir, "%s.seq" % ip)
        self.ip = ip
        self.clock = clock
        self.last_seq = 0
        self._name = None
        self._descriptor = None

    def _own_files(self):
        found = []
        for name in os.listdir(self.log_dir):
            parsed = parse_log_file_name(name)
            if parsed and parsed[0] == self.ip:
                found.append(((parsed[1], parsed[2]), name))
        return [name for _stamp, name in sorted(found)]

    def _saved_seq(self):
        try:
            with open(self.state_path, encoding="ascii") as handle:
                return int(handle.read().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            LOGGER.warning("%s: unreadable, ignored", self.state_path)
            return 0

    def recover(self):
        """The last seq written: the saved one, or the newest file's if that is further on."""
        files = self._own_files()
        in_file = _last_seq_in_tail(os.path.join(self.log_dir, files[-1])) if files else 0
        self.last_seq = max(self._saved_seq(), in_file)
        return self.last_seq

    def _current(self):
        now = self.clock()
        name = log_file_name(self.ip, now.tm_year, now.tm_mon)
        if name != self._name:
            self.close()
            path = os.path.join(self.log_dir, name)
            created = not os.path.exists(path)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._descriptor = os.open(path, flags, 0o640)
            self._name = name
            if created:
                _fsync_directory(self.log_dir)
                LOGGER.info("%s: writing %s", self.ip, name)
        return self._descriptor

    def append(self, lines, last_seq):
        """Write ``lines``, make them durable, then remember ``last_seq``."""
        descriptor = self._current()
        _write_all(descriptor, b"".join(lines))
        os.fsync(descriptor)
        self.save(last_seq)

    def save(self, last_seq):
        temporary = self.state_path + ".tmp"
        with open(temporary, "w", encoding="ascii") as handle:
            handle.write("%d\n" % last_seq)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_path)
        _fsync_directory(os.path.dirname(self.state_path))
        self.last_seq = last_seq

    def close(self):
        if self._descriptor is not None:
            os.close(self._descriptor)
        self._descriptor = None
        self._name = None


def prune(log_dir, retention_months, now):
    """Delete vendor log files of months more than ``retention_months`` before ``now``."""
    current = now.tm_year * 12 + now.tm_mon - 1
    removed = []
    for name in sorted(os.listdir(log_dir)):
        parsed = parse_log_file_name(name)
        if parsed and current - (parsed[1] * 12 + parsed[2] - 1) > retention_months:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(log_dir, name))
                removed.append(name)
    for name in removed:
        LOGGER.info("retention: deleted %s (older than %d months)", name, retention_months)
    return removed


# --- the stream ------------------------------------------------------------------------------

WRITE, DUPLICATE, RESTARTED = "write", "duplicate", "restarted"


class SequenceFilter:
    """Decides, line by line of one connection, what is written: each seq once, in order."""

    def __init__(self, last_seq):
        self.last_seq = last_seq
        self.first = True
        self.missing = 0

    def feed(self, line):
        seq = line_seq(line)
        if seq is None:
            return WRITE  # outside the protocol: kept, it cannot be deduplicated
        first, self.first = self.first, False
        if seq <= self.last_seq:
            return RESTARTED if first else DUPLICATE
        if seq > self.last_seq + 1:
            self.missing += seq - self.last_seq - 1
        self.last_seq = seq
        return WRITE


class Backoff:
    """Exponential delays from ``initial`` to ``maximum``, each jittered into its upper half."""

    def __init__(self, initial, maximum, rng=random.random):
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.rng = rng
        self.attempts = 0

    def next_delay(self):
        ceiling = min(self.maximum, self.initial * 2 ** min(self.attempts, 32))
        self.attempts += 1
        return ceiling / 2 + self.rng() * ceiling / 2

    def reset(self):
        self.attempts = 0


class StreamError(Exception):
    pass


def split_lines(buffer):
    """(complete lines with their line ends, the incomplete rest)."""
    end = buffer.rfind(b"\n") + 1
    if not end:
        return [], buffer
    return buffer[:end].splitlines(keepends=True), buffer[end:]


def _keepalive(sock, idle):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), int(value))


class Collector:
    """Follows one device: connect, ask, write, and reconnect when the stream ends."""

    def __init__(self, device, files, config):
        self.device = device
        self.files = files
        self.config = config
        self.backoff = Backoff(config["backoff_initial"], config["backoff_max"])
        self.label = "%s (%s:%d)" % (device["name"], device["ip"], device["port"])
        self.stats = StreamStats()
        self.journal = activity_journal(config, device)

    async def run(self):
        while True:
            try:
                outcome = await self.stream_once()
            except (OSError, asyncio.TimeoutError, StreamError) as error:
                outcome = "%s: %s" % (type(error).__name__, error)
            self.stats.lost()
            if outcome == RESTARTED:
                continue
            delay = self.backoff.next_delay()
            LOGGER.warning("%s: %s; reconnecting in %.1f s", self.label, outcome, delay)
            await asyncio.sleep(delay)

    async def _connect(self):
        source = self.device.get("source")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                self.device["ip"],
                self.device["port"],
                local_addr=(source, 0) if source else None,
                limit=MAX_LINE,
            ),
            self.config["connect_timeout"],
        )
        _keepalive(writer.get_extra_info("socket"), self.config["keepalive_idle"])
        self.stats.connected()
        return reader, writer

    async def stream_once(self):
        reader, writer = await self._connect()
        try:
            requested = self.files.last_seq + 1
            request = self.device.get("request", DEFAULT_REQUEST)
            writer.write(request.replace("{seq}", str(requested)).encode("utf-8"))
            await writer.drain()
            LOGGER.info("%s: connected, asked for lines from %d", self.label, requested)
            return await self._receive(reader, SequenceFilter(self.files.last_seq))
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _receive(self, reader, sequence):
        pending = b""
        while True:
            chunk = await reader.read(READ_SIZE)
            if not chunk:
                return "the device closed the connection"
            lines, pending = split_lines(pending + chunk)
            if len(pending) > MAX_LINE:
                raise StreamError("a line longer than %d bytes" % MAX_LINE)
            if self._write(lines, sequence) == RESTARTED:
                return RESTARTED

    def _write(self, lines, sequence):
        batch, restarted_at = [], None
        for line in lines:
            verdict = sequence.feed(line)
            if verdict == RESTARTED:
                restarted_at = line_seq(line)
                break
            if verdict == WRITE:
                batch.append(line)
        if batch:
            self._append(batch, sequence)
        if restarted_at is None:
            return WRITE
        LOGGER.warning(
            "%s: the device sent line %d after line %d was written: it restarted and counts "
            "from 1 again; re-reading its buffer from line 1",
            self.label,
            restarted_at,
            self.files.last_seq,
        )
        self.files.save(0)
        return RESTARTED

    def _append(self, batch, sequence):
        self.journal.send(batch)
        self.files.append(batch, sequence.last_seq)
        self.stats.written(len(batch))
        self.backoff.reset()
        if sequence.missing:
            LOGGER.warning(
                "%s: %d line(s) up to line %d were no longer in the device's buffer",
                self.label,
                sequence.missing,
                sequence.last_seq,
            )
            sequence.missing = 0


# --- metrics (node_exporter's textfile collector) -------------------------------------------

METRICS_FILE = "mpcpu_activity_log.prom"
# Where the collection's roles install prom_textfile.py (plugins/module_utils) on a host.
PYTHON_LIBRARY = "/usr/local/lib/megapower-mpcpu"


class StreamStats:
    """What the metrics say about one device's stream: connected, records, last, reconnects."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.up = False
        self.records = 0
        self.last_record = None
        self.reconnections = 0
        self._ever_connected = False

    def connected(self):
        self.reconnections += 1 if self._ever_connected else 0
        self.up = self._ever_connected = True

    def written(self, count):
        self.records += count
        self.last_record = self.clock()

    def lost(self):
        self.up = False


def metric_families(prom_textfile, collectors):
    """The collector's metrics, one series per MPCPU (labels mpcpu, address)."""
    family = prom_textfile.Family
    up = family(
        "mpcpu_activity_stream_up", "gauge", "1 while the activity log stream is connected."
    )
    records = family(
        "mpcpu_activity_records_total",
        "counter",
        "Activity records written since the collector started.",
    )
    last = family(
        "mpcpu_activity_last_record_timestamp_seconds",
        "gauge",
        "When the last activity record was written (collector's clock, Unix time).",
    )
    reconnections = family(
        "mpcpu_activity_reconnections_total",
        "counter",
        "Connections made again after a lost or refused one.",
    )
    for collector in collectors:
        labels = {"mpcpu": collector.device["name"], "address": collector.device["ip"]}
        stats = collector.stats
        up.add(labels, stats.up)
        records.add(labels, stats.records)
        reconnections.add(labels, stats.reconnections)
        if stats.last_record is not None:
            last.add(labels, stats.last_record)
    return [up, records, last, reconnections]


async def _metrics_forever(config, collectors):
    if PYTHON_LIBRARY not in sys.path:
        sys.path.append(PYTHON_LIBRARY)
    import prom_textfile  # noqa: PLC0415 (installed beside the collector only with metrics on)

    def write():
        try:
            text = prom_textfile.render(metric_families(prom_textfile, collectors))
            prom_textfile.write_atomically(config["metrics_dir"], METRICS_FILE, text)
        except OSError as error:
            LOGGER.warning("metrics: %s", error)

    try:
        while True:
            write()
            await asyncio.sleep(config["metrics_interval"])
    except asyncio.CancelledError:
        for collector in collectors:  # stopping: no stream is up any more
            collector.stats.lost()
        write()
        raise


class _NoJournal:
    def send(self, _lines):
        return 0


def activity_journal(config, device):
    """Where ``device``'s records go besides its files: the journal, or nowhere."""
    if not config["journal"]:
        return _NoJournal()
    return importlib.import_module("mpcpu_journal").JournalSink(device["name"], device["ip"])


# --- service ---------------------------------------------------------------------------------


def notify(state):
    """Tell systemd (Type=notify) about ``state``; a no-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(state.encode(), address)


async def _prune_forever(config):
    while True:
        prune(config["log_dir"], config["retention_months"], time.localtime())
        await asyncio.sleep(PRUNE_EVERY)


async def serve(config):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    files = {}
    for device in config["devices"]:
        files[device["ip"]] = DeviceFiles(config["log_dir"], config["state_dir"], device["ip"])
        LOGGER.info("%s: resuming after line %d", device["name"], files[device["ip"]].recover())
    collectors = [Collector(device, files[device["ip"]], config) for device in config["devices"]]
    tasks = [asyncio.ensure_future(_prune_forever(config))]
    tasks += [asyncio.ensure_future(collector.run()) for collector in collectors]
    if config["metrics_dir"]:
        tasks.append(asyncio.ensure_future(_metrics_forever(config, collectors)))
    notify("READY=1\nSTATUS=collecting from %d MPCPU(s)" % len(config["devices"]))
    await stop.wait()
    notify("STOPPING=1")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for device_files in files.values():
        device_files.close()
    LOGGER.info("stopped")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="/etc/mpcpu-log-collector/config.json")
    parser.add_argument("--check-config", metavar="FILE", help="validate FILE and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = load_config(args.check_config or args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1 if args.check_config else EX_CONFIG
    if args.check_config:
        print("configuration OK: %d MPCPU(s)" % len(config["devices"]))
        return 0
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
