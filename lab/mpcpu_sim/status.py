"""The control file: a JSON snapshot of every simulated device, rewritten as things change.

Tests and lab checks read it instead of talking to the simulator: it says when the
simulator is ready (``running``), which ports each device really listens on (useful with
port 0), the device clocks, firmware slots, activity-log sequence numbers and counters.
It is replaced atomically (write + rename), so a reader never sees half a file.
"""

import asyncio
import json
import os
import time

DEBOUNCE = 0.1


class StatusFile:
    def __init__(self, path, devices, ports):
        self.path = path
        self.devices = devices
        self.ports = ports
        self.running = False
        self._pending = None

    def schedule(self):
        """Rewrite soon: many changes in a burst cost one write."""
        if self.path is None or self._pending is not None:
            return
        self._pending = asyncio.get_running_loop().call_later(DEBOUNCE, self.write)

    def write(self, running=None):
        if running is not None:
            self.running = running
        self._pending = None
        if self.path is None:
            return
        document = {
            "pid": os.getpid(),
            "running": self.running,
            "updated": time.time(),
            "table_ports": self.ports,
            "devices": {device.name: device.status() for device in self.devices},
        }
        temporary = "%s.%d.tmp" % (self.path, os.getpid())
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
        os.replace(temporary, self.path)

    def cancel(self):
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
