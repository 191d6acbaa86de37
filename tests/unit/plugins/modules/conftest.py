"""Run a module's main() in-process with Ansible's own argument handling (ansible-core 2.19
``patch_module_args``), a fake TFTP client standing in for the MPCPU."""

import datetime
import hashlib
import types

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.megapower.mpcpu.plugins.module_utils import tftp


class AnsibleExitJson(Exception):
    """exit_json was called; ``result`` is what the module returned."""


class AnsibleFailJson(Exception):
    """fail_json was called; ``result`` holds msg and the rest."""


class ModuleRunner:
    def __init__(self, monkeypatch):
        monkeypatch.setattr(basic.AnsibleModule, "exit_json", self._exit)
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", self._fail)

    @staticmethod
    def _exit(module, **result):
        raise AnsibleExitJson(result)

    @staticmethod
    def _fail(module, **result):
        raise AnsibleFailJson(result)

    def succeeds(self, module, args):
        with pytest.raises(AnsibleExitJson) as outcome, patch_module_args(args):
            module.main()
        return outcome.value.args[0]

    def fails(self, module, args):
        with pytest.raises(AnsibleFailJson) as outcome, patch_module_args(args):
            module.main()
        return outcome.value.args[0]


class FakeMpcpu:
    """Time file and firmware slot as the simulator's contract describes them."""

    def __init__(self, clock_offset=0.0):
        self.clock_offset = clock_offset
        self.version = "4.1"
        self.sha256 = hashlib.sha256(b"").hexdigest()
        self.transfers = []

    def client(self, host, **options):
        return FakeClient(self, options)


class FakeClient:
    def __init__(self, device, options):
        self.device = device
        self.options = options

    def read(self, remote_name, fileobj):
        device = self.device
        device.transfers.append(("read", remote_name))
        if remote_name == "mpcpu_time.txt":
            now = datetime.datetime.fromtimestamp(
                int(datetime.datetime.now(datetime.UTC).timestamp() + device.clock_offset),
                datetime.UTC,
            )
            fileobj.write(now.strftime("%Y-%m-%dT%H:%M:%S\n").encode())
        elif remote_name == "firmware.version":
            fileobj.write(
                b"version=%s\nsha256=%s\n" % (device.version.encode(), device.sha256.encode())
            )
        else:
            raise tftp.TftpRemoteError(tftp.ERR_NOT_FOUND, "File not found")
        return types.SimpleNamespace(bytes=fileobj.tell(), duration=0.001, options={})

    def write(self, remote_name, fileobj, size=None):
        device = self.device
        data = fileobj.read()
        device.transfers.append(("write", remote_name))
        if remote_name == "mpcpu_time.txt":
            written = datetime.datetime.strptime(data.decode().strip(), "%Y-%m-%dT%H:%M:%S")
            now = datetime.datetime.now(datetime.UTC).timestamp()
            device.clock_offset = written.replace(tzinfo=datetime.UTC).timestamp() - now
        else:
            device.sha256 = hashlib.sha256(data).hexdigest()
            device.version = data.split(b"\n", 1)[0].split(b" ", 1)[-1].decode()
        return types.SimpleNamespace(
            bytes=len(data),
            duration=0.25,
            blocks=1,
            retransmissions=0,
            options={"tsize": size},
            blksize=512,
            windowsize=1,
        )


@pytest.fixture
def runner(monkeypatch):
    return ModuleRunner(monkeypatch)


@pytest.fixture
def mpcpu(monkeypatch):
    """The fake MPCPU every TftpClient the modules create talks to."""
    device = FakeMpcpu()
    monkeypatch.setattr(tftp, "TftpClient", device.client, raising=False)
    return device
