"""What each simulated MPCPU is: its settings, read from JSON and the command line.

Precedence, lowest first: the built-in defaults below, the config file's ``defaults``, the
command line's ``--set KEY=VALUE``, then a device's own entry in the config file. Fault rules
are the config file's ``faults`` plus ``--fault`` specs (both global, narrowed by their
``device`` key) plus a device entry's own ``faults``.
"""

import dataclasses
import ipaddress
import json

from mpcpu_sim import faults

TFTP_OPTIONS = ("blksize", "tsize", "timeout", "windowsize")
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class DeviceSettings:
    name: str
    address: str
    firmware_version: str = "4.0"  # what firmware.version reports before any upload
    time_file: str = "mpcpu_time.txt"
    time_format: str = "%Y-%m-%dT%H:%M:%S"  # strftime pattern of the time file (UTC), plus "\n"
    firmware_file: str = "firmware.bin"
    firmware_version_file: str = "firmware.version"
    firmware_limit: int = 64 * MIB  # larger uploads get ERROR 3 (disk full)
    clock_offset: float = 0.0  # device clock minus host clock, seconds
    refuse_options: tuple = ()  # requests naming one of these get ERROR 8
    ignore_options: tuple = ()  # dropped before negotiation; none left -> no OACK
    rollover: int = 0  # block number after 65535: 0 or 1
    max_blksize: int = 65464
    max_windowsize: int = 64
    max_timeout: int = 255
    tftp_timeout: float = 1.0  # retransmission timeout when the client negotiates none
    tftp_retries: int = 5
    die_linger: float = 30.0  # a "die" transfer keeps its port silent this long
    log_rate: float = 5.0  # live activity-log lines per second (0: none)
    log_buffer: int = 10000  # lines kept for replay
    log_request_wait: float = 2.0  # how long a collector may take to send "LOG n"
    easy_cpu_replies: int = 3
    # ASSUMED status protocol (no public document gives the UDP 4001 payload): the request
    # answered ("" answers any), each reply, and the role part a CPU of a pair adds to it.
    status_request: str = ""
    status_reply_format: str = (
        "MPCPU {name} {address} STATUS {index}/{total} uptime={uptime} version={version}{role}"
    )
    status_role_format: str = " role={state}"
    status_selected_word: str = "selected"
    status_standby_word: str = "standby"
    mate: str = ""  # the other CPU of its hot-standby pair (a device name)
    role: str = ""  # "selected" or "standby" at start; a pair with neither: the first selected
    flash_seconds: float = 0.0  # after a firmware upload, silent this long (flashing)
    faults: tuple = ()


_FIELDS = {field.name: field for field in dataclasses.fields(DeviceSettings)}
_IDENTITY = ("name", "address", "faults")


def _option_names(value):
    if value in (None, False, "", "none"):
        return ()
    if value in (True, "all", "*"):
        return TFTP_OPTIONS
    if isinstance(value, str):
        value = value.split(",")
    names = tuple(str(item).strip().lower() for item in value)
    unknown = sorted(set(names) - set(TFTP_OPTIONS))
    if unknown:
        raise ValueError("unknown TFTP option(s) %s (known: %s)" % (unknown, TFTP_OPTIONS))
    return names


def _convert(key, value):
    """A setting value from JSON or a command-line string, in the type of its default."""
    if key not in _FIELDS or key in _IDENTITY:
        settable = sorted(set(_FIELDS) - set(_IDENTITY))
        raise ValueError("unknown device setting %r (settable: %s)" % (key, ", ".join(settable)))
    if key in ("refuse_options", "ignore_options"):
        return _option_names(value)
    kind = type(_FIELDS[key].default)
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        raise ValueError("setting %s=%r is not a %s" % (key, value, kind.__name__)) from None
    if key == "role" and converted not in ("", "selected", "standby"):
        raise ValueError("setting role=%s: must be selected or standby" % value)
    if key == "rollover" and converted not in (0, 1):
        raise ValueError("setting rollover=%s: must be 0 or 1" % value)
    if kind in (int, float) and converted < 0:
        raise ValueError("setting %s=%r must not be negative" % (key, value))
    return converted


def parse_assignments(items):
    """["rollover=1", "refuse_options=blksize,tsize"] -> converted dict."""
    values = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError("--set %r is not KEY=VALUE" % item)
        values[key.strip()] = _convert(key.strip(), value.strip())
    return values


def expand_addresses(items, name_prefix):
    """--address values (``IP``, ``NAME=IP`` or ``FIRST-LAST``) -> [(name or None, ip)]."""
    devices = []
    for item in items or ():
        name, sep, address = item.rpartition("=")
        try:
            if "-" in address and not sep:
                devices.extend((None, ip) for ip in _address_range(address))
            else:
                devices.append((name if sep else None, str(ipaddress.IPv4Address(address))))
        except ValueError as error:
            raise ValueError(
                "--address %r: %s (give IP, NAME=IP or FIRST-LAST)" % (item, error)
            ) from None
    return devices


def _address_range(text):
    first, last = (ipaddress.IPv4Address(part.strip()) for part in text.split("-", 1))
    count = int(last) - int(first) + 1
    if not 1 <= count <= 65536:
        raise ValueError("the range is empty or larger than 65536 addresses")
    return [str(first + step) for step in range(count)]


def load_file(path):
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    if not isinstance(document, dict):
        raise ValueError("%s: the top level must be an object" % path)
    known = {"defaults", "devices", "faults", "ports", "ports_offset", "name_prefix"}
    unknown = set(document) - known
    if unknown:
        raise ValueError("%s: unknown key(s) %s" % (path, ", ".join(sorted(unknown))))
    return document


def build_devices(document, cli_addresses=(), cli_settings=None, cli_faults=(), name_prefix=None):
    """The DeviceSettings of every device: config-file devices, then command-line addresses."""
    prefix = name_prefix or document.get("name_prefix") or "cpu"
    defaults = {key: _convert(key, value) for key, value in document.get("defaults", {}).items()}
    defaults.update(cli_settings or {})
    global_faults = [faults.parse_rule(rule) for rule in document.get("faults", [])]
    global_faults.extend(cli_faults)
    entries = [dict(entry) for entry in document.get("devices", [])]
    entries.extend({"name": name, "address": ip} for name, ip in cli_addresses)
    devices = [
        _device(entry, index, prefix, defaults, global_faults)
        for index, entry in enumerate(entries, start=1)
    ]
    _refuse_duplicates(devices)
    return devices


def _device(entry, index, prefix, defaults, global_faults):
    if "address" not in entry:
        raise ValueError("device entry %d has no address" % index)
    try:
        address = str(ipaddress.IPv4Address(entry.pop("address")))
    except ValueError as error:
        raise ValueError("device entry %d: %s" % (index, error)) from None
    name = entry.pop("name", None) or "%s%03d" % (prefix, index)
    own_faults = [faults.parse_rule(rule) for rule in entry.pop("faults", [])]
    values = dict(defaults)
    values.update({key: _convert(key, value) for key, value in entry.items()})
    plan_rules = tuple(global_faults) + tuple(own_faults)
    return DeviceSettings(name=name, address=address, faults=plan_rules, **values)


def _refuse_duplicates(devices):
    for attribute in ("name", "address"):
        seen = set()
        for device in devices:
            value = getattr(device, attribute)
            if value in seen:
                raise ValueError("two devices share the %s %s" % (attribute, value))
            seen.add(value)
