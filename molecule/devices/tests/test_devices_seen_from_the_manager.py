"""Seen from the management host over the lab network, with tools that are not our modules
(tftp-hpa, netcat): each MPCPU has the manager's time and the firmware the inventory names."""

import pathlib

import pytest
import yaml

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

SCENARIO = pathlib.Path(__file__).resolve().parents[1]
INVENTORY = yaml.safe_load((SCENARIO / "inventory" / "hosts.yml").read_text())
FIRMWARE = yaml.safe_load((SCENARIO / "inventory" / "group_vars" / "mpcpu.yml").read_text())
MPCPUS = INVENTORY["all"]["children"]["mpcpu"]["hosts"]
TFTP_PORT = appendix_d.row("time_firmware").mpcpu_port
EASY_CPU_PORT = appendix_d.row("easy_cpu").mpcpu_port


def tftp_get(host, address, remote_name):
    local = "/tmp/verify-%s-%s" % (address, remote_name)
    result = host.run(
        "tftp -m binary %s %s -c get %s %s && cat %s",
        address,
        str(TFTP_PORT),
        remote_name,
        local,
        local,
    )
    assert result.rc == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", sorted(MPCPUS))
def test_mpcpu_clock_agrees_with_the_manager(host, name):
    address = MPCPUS[name]["mpcpu_ip"]
    before = int(host.check_output("date -u +%s"))
    shown = tftp_get(host, address, "mpcpu_time.txt").strip()
    after = int(host.check_output("date -u +%s"))
    device = int(host.check_output("date -u -d %s +%%s", shown + "Z"))
    assert before - 2 <= device <= after + 2, "%s shows %s" % (name, shown)


@pytest.mark.parametrize("name", sorted(MPCPUS))
def test_mpcpu_holds_the_inventory_firmware(host, name):
    report = tftp_get(host, MPCPUS[name]["mpcpu_ip"], "firmware.version")
    fields = dict(line.split("=", 1) for line in report.splitlines() if "=" in line)
    image = FIRMWARE["mpcpu_firmware"]["file"]
    on_disk = host.check_output("sha256sum %s", image).split()[0]
    assert fields["sha256"] == on_disk == FIRMWARE["mpcpu_firmware"]["sha256"]
    assert fields["version"] == FIRMWARE["mpcpu_firmware"]["version"]


@pytest.mark.parametrize("name", sorted(MPCPUS))
def test_mpcpu_answers_status_requests_with_its_name(host, name):
    address = MPCPUS[name]["mpcpu_ip"]
    replies = host.check_output(
        "printf 'STATUS\\r\\n' | nc -u -w 1 %s %s", address, str(EASY_CPU_PORT)
    )
    lines = [line for line in replies.splitlines() if line.strip()]
    assert lines and all(line.startswith("MPCPU %s %s STATUS" % (name, address)) for line in lines)
