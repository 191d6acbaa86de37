"""Serve every simulated MPCPU from one asyncio loop: per device address, the TFTP port
(time_firmware), the activity-log stream (activity_logging) and EASY CPU (easy_cpu)."""

import asyncio
import logging
import resource
import signal

from mpcpu_sim import activity_log
from mpcpu_sim.device import Device
from mpcpu_sim.easy_cpu import EasyCpuProtocol
from mpcpu_sim.status import StatusFile
from mpcpu_sim.tftp_server import TftpListener

LOGGER = logging.getLogger("mpcpu_sim")
SOCKETS_PER_DEVICE = 3
SPARE_DESCRIPTORS = 256


class BindError(Exception):
    pass


class Simulator:
    """The devices and their sockets; ``start``, then ``stop`` (or ``run`` until SIGTERM)."""

    def __init__(self, device_settings, ports, status_path=None):
        self.ports = dict(ports)
        self.devices = []
        self.status = StatusFile(status_path, self.devices, self.ports)
        self.devices.extend(
            Device(item, on_change=self.status.schedule) for item in device_settings
        )
        link_pairs(self.devices)
        self._transports = []
        self._listeners = []
        self._servers = []
        self._streams = set()  # the running activity-log connections

    async def start(self):
        _raise_descriptor_limit(len(self.devices) * SOCKETS_PER_DEVICE + SPARE_DESCRIPTORS)
        for device in self.devices:
            await self._start_device(device)
        self.status.write(running=True)
        LOGGER.info(
            "serving %d device(s) on %s",
            len(self.devices),
            ", ".join("%s %s" % item for item in sorted(self.ports.items())),
        )

    async def _start_device(self, device):
        loop = asyncio.get_running_loop()
        address = device.address
        listener = TftpListener(device)
        transport, _protocol = await _bound(
            "udp",
            address,
            self.ports["time_firmware"],
            loop.create_datagram_endpoint(
                lambda: listener, local_addr=(address, self.ports["time_firmware"])
            ),
        )
        self._transports.append(transport)
        self._listeners.append(listener)
        device.ports["time_firmware"] = transport.get_extra_info("sockname")[1]
        transport, _protocol = await _bound(
            "udp",
            address,
            self.ports["easy_cpu"],
            loop.create_datagram_endpoint(
                lambda: EasyCpuProtocol(device), local_addr=(address, self.ports["easy_cpu"])
            ),
        )
        self._transports.append(transport)
        device.ports["easy_cpu"] = transport.get_extra_info("sockname")[1]
        server = await _bound(
            "tcp",
            address,
            self.ports["activity_logging"],
            asyncio.start_server(
                activity_log.collector_handler(device, self._streams),
                host=address,
                port=self.ports["activity_logging"],
                reuse_address=True,
            ),
        )
        self._servers.append(server)
        device.ports["activity_logging"] = server.sockets[0].getsockname()[1]

    async def stop(self):
        self.status.cancel()
        for listener in self._listeners:
            listener.close()
        for transport in self._transports:
            transport.close()
        for server in self._servers:
            server.close()
        streams = list(self._streams)
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self.status.write(running=False)
        LOGGER.info("stopped")

    async def run(self):
        """Start, serve until SIGTERM or SIGINT, stop."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await self.start()
            await stop.wait()
        finally:
            await self.stop()


def link_pairs(devices):
    """Link each device to its ``mate``; a pair where neither says: the first one selected."""
    by_name = dict((device.name, device) for device in devices)
    for device in devices:
        mate = device.settings.mate
        if not mate:
            continue
        if mate not in by_name or mate == device.name or by_name[mate].settings.mate != device.name:
            raise ValueError("%s: mate %r is not a device naming it back" % (device.name, mate))
        device.mate = by_name[mate]
    for device in devices:
        if device.mate is not None and not (device.selected or device.mate.selected):
            device.selected = True


async def _bound(protocol, address, port, opening):
    try:
        return await opening
    except OSError as error:
        raise BindError(
            "cannot listen on %s port %d/%s: %s" % (address, port, protocol, error.strerror)
        ) from None


def _raise_descriptor_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        LOGGER.warning("only %d file descriptors for %d wanted", target, wanted)
