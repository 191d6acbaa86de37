"""The built-in lab: its topology and its inventory describe the same hosts and addresses."""

import hashlib
import pathlib

import yaml

from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d
from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model
from mpcpu_lab import topology

LAB = pathlib.Path(__file__).resolve().parents[2] / "inventories" / "lab"


def inventory_hosts():
    """{host: vars} and {group: [hosts]} of hosts.yml, walking its children."""
    hosts, groups = {}, {}

    def walk(name, node):
        for host, host_vars in (node.get("hosts") or {}).items():
            hosts.setdefault(host, {}).update(host_vars or {})
            groups.setdefault(name, []).append(host)
        for child, child_node in (node.get("children") or {}).items():
            walk(child, child_node or {})
            groups.setdefault(name, []).extend(groups.get(child, []))

    walk("all", yaml.safe_load((LAB / "hosts.yml").read_text())["all"])
    return hosts, groups


def test_every_ssh_host_boots_at_the_address_the_inventory_uses():
    lab_topology = topology.load(LAB.parents[1] / "lab" / "topologies" / "site.yml")
    booted = {
        host["name"]: {
            address.split("/")[0] for link in host["links"] for address in link["addresses"]
        }
        for host in lab_topology["hosts"]
    }
    hosts, groups = inventory_hosts()
    for name in groups["lab_hosts"]:
        assert hosts[name]["ansible_host"] in booted[name], name
    assert set(booted) == set(groups["lab_hosts"])


def test_the_lab_site_is_valid_and_its_firmware_file_matches_its_sha256():
    hosts, groups = inventory_hosts()
    site = yaml.safe_load((LAB / "group_vars" / "all.yml").read_text())["mpcpu_site"]
    model = site_model.build_site(site, groups, hosts)
    assert len(model["mpcpus"]) == 3
    assert {row["id"] for row in model["rows"]} == set(appendix_d.ROWS_BY_ID)
    firmware = next(device["firmware"] for device in model["mpcpus"] if device["firmware"])
    image = (LAB / firmware["file"]).read_bytes()
    assert hashlib.sha256(image).hexdigest() == firmware["sha256"]
    assert image.startswith(b"MPCPU-FW %s\n" % firmware["version"].encode())
