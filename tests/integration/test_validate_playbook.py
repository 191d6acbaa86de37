"""playbooks/validate.yml through real ansible-playbook: a bad site stops before any host."""

import hashlib
import pathlib

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORIES = ROOT / "tests" / "integration" / "inventories"
EXAMPLE = ROOT / "inventories" / "example"

HOSTS = """\
---
all:
  children:
    mpcpu:
      hosts:
        mpcpu-01: {mpcpu_ip: 198.51.100.10, mpcpu_mac: "02:00:00:00:01:10"%(firmware)s}
        mpcpu-02: {mpcpu_ip: 198.51.100.11, mpcpu_mac: "02:00:00:00:01:11"%(typo)s}
    mpcpu_routers:
      hosts:
        gw: {ansible_host: %(gw_host)s, mpcpu_router_addresses: [198.51.100.1, 203.0.113.1]}
    mpcpu_servers:
      hosts:
        server: {ansible_host: 203.0.113.10}
      children:
        mpcpu_dhcp_servers: {hosts: {server: {}}}
        mpcpu_ntp_servers: {hosts: {server: {}}}
        mpcpu_smtp_relays: {hosts: {server: {}}}
        mpcpu_snapshot_receivers: {hosts: {server: {}}}
        mpcpu_log_collectors: {hosts: {server: {}}}
        mpcpu_easy_consoles: {hosts: {server: {}}}
        mpcpu_managers: {hosts: {server: {}}}
"""

SITE = """\
---
mpcpu_site:
  name: written
  networks:
    - {name: cctv, cidr: 198.51.100.0/26, kind: mpcpu}
    - {name: office, cidr: 203.0.113.0/26%(kind)s}
  management_networks: [203.0.113.0/26]
%(extra)s"""

IMAGE = b"MPCPU-FW 4.3 test image\n"


def write_inventory(directory, **settings):
    values = {"firmware": "", "typo": "", "gw_host": "203.0.113.1", "kind": ", kind: pc"}
    values.update(settings)
    values.setdefault("extra", "")
    (directory / "group_vars").mkdir(parents=True)
    (directory / "hosts.yml").write_text(HOSTS % values)
    (directory / "group_vars" / "all.yml").write_text(SITE % values)
    return directory


def run(playbook, inventory_dir):
    return ansible_cli.run("ansible-playbook", "-i", inventory_dir, playbook)


def run_validate(inventory_dir):
    return run("playbooks/validate.yml", inventory_dir)


def refused_problems(inventory_dir):
    """validate.yml's one error line for an inventory it must refuse, without a traceback."""
    result = run_validate(inventory_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    (problems,) = [line for line in output.splitlines() if line.startswith("[ERROR]: Task failed")]
    return problems


def test_good_site_validates_and_prints_the_port_matrix():
    result = run_validate(INVENTORIES / "good")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Activity Logging: TCP MPCPU 514 / PC any, pc starts, 2 flow(s)" in result.stdout


def test_bad_site_lists_every_problem_with_host_and_field_and_no_traceback():
    result = run_validate(INVENTORIES / "bad")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Invalid MPCPU site: 4 problem(s)" in output
    assert "mpcpu-01: mpcpu_ip: ''198.51.100.300'' is not a valid IPv4 address" in output
    assert (
        "mpcpu-02, mpcpu-03: mpcpu_mac: MAC 02:00:00:00:01:10 is shared by these 2 hosts;"
        " each needs its own"
    ) in output
    assert "groups: mpcpu_ntp_servers: nobody plays the PC side of row ntp" in output
    assert "Traceback" not in output


def test_shipped_example_site_validates_with_its_programmed_port():
    result = run_validate(EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EASY CPU: UDP MPCPU 4002 / PC any, pc starts, 5 flow(s)" in result.stdout


def test_the_example_ships_the_firmware_image_it_names():
    hosts = (EXAMPLE / "hosts.yml").read_text()
    image = (EXAMPLE / "files" / "firmware" / "mpcpu-4.2.bin").read_bytes()
    assert "file: files/firmware/mpcpu-4.2.bin" in hosts
    assert "sha256: %s" % hashlib.sha256(image).hexdigest() in hosts


def test_shapes_that_used_to_crash_and_settings_later_plays_refuse_are_all_listed(tmp_path):
    inventory = write_inventory(
        tmp_path / "inventory",
        firmware=", mpcpu_firmware: {file: files/absent.bin, version: '4.3'}",
        typo=", mpcpu_firmwre: {file: files/absent.bin}",
        gw_host="198.51.100.11",
        kind="",
        extra=(
            "  rows: [activity_logging, easy_cpu, snapshot, time_firmware, ntp, alarm_email,\n"
            "         ip_assignment, {id: ntp}]\n"
            "  port_overrides:\n"
            "    69: {mpcpu_port: 70}\n"
            "    easy_cpu: {mpcpu_port: 69}\n"
            "    ip_assignment: {pc_port: 1067}\n"
        ),
    )
    problems = refused_problems(inventory)
    expected = [
        "mpcpu_site.networks[1]: kind: missing: say what the network holds",
        "mpcpu_site: rows: unknown Appendix D row {'id': 'ntp'}",
        "mpcpu_site.port_overrides: 69: 69 is not an Appendix D row id",
        "mpcpu_site.port_overrides.ip_assignment: pc_port: the dhcp role serves DHCP on the",
        "mpcpu_site.port_overrides: mpcpu_port: rows easy_cpu, time_firmware would all use",
        "mpcpu-02: mpcpu_firmwre: unknown host variable of the collection",
        "mpcpu-01: mpcpu_firmware.file: cannot read %s/files/absent.bin: No such file" % inventory,
        "gw: ansible_host: 198.51.100.11 is the address of MPCPU mpcpu-02",
    ]
    for message in expected:
        assert message in problems, message
    assert "Invalid MPCPU site: %d problem(s)" % len(expected) in problems


def test_a_firmware_image_beside_the_inventory_validates_through_jinja_too(tmp_path):
    inventory = write_inventory(
        tmp_path / "inventory",
        firmware=", mpcpu_firmware: {file: '{{ image_dir }}/fw.bin', version: '4.3', sha256: %s}"
        % hashlib.sha256(IMAGE).hexdigest(),
        extra="image_dir: files\n",
    )
    (inventory / "files").mkdir()
    (inventory / "files" / "fw.bin").write_bytes(IMAGE)
    result = run_validate(inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Setting Time / Firmware Upgrade: UDP MPCPU 69 / PC any, pc starts, 2 flow(s)" in (
        result.stdout
    )


def test_site_yml_stops_at_its_first_play_before_any_host(tmp_path):
    inventory = write_inventory(
        tmp_path / "inventory", extra="  port_overrides: {easy_cpu: {mpcpu_port: 123}}\n"
    )
    result = run("playbooks/site.yml", inventory)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "rows easy_cpu, ntp would all use UDP/123 on every MPCPU" in output
    assert "PLAY [Firewalls" not in output


def test_role_options_a_role_would_refuse_at_its_start_are_refused_before_any_host(tmp_path):
    inventory = write_inventory(tmp_path / "inventory")
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / "server.yml").write_text(
        "---\n"
        "firewall_confirm_timeout: 5\n"
        "dhcp_valid_lifetime: one day\n"
        "log_collector_backoff_max: 0.5\n"
    )
    (inventory / "host_vars" / "gw.yml").write_text("---\nfirewall_input_policy: deny\n")
    problems = refused_problems(inventory)
    expected = [
        "server: firewall_confirm_timeout: 5 s is too short; give at least 10",
        "gw: firewall_input_policy: value of firewall_input_policy must be one of: accept, drop, "
        "got: deny",
        "server: dhcp_valid_lifetime: 'one day' is not an integer",
        "server: log_collector_backoff_max: 0.5 must not be below log_collector_backoff_initial",
    ]
    for message in expected:
        assert message in problems, message
    assert "Invalid MPCPU site: %d problem(s)" % len(expected) in problems


def test_site_yml_never_logs_in_to_an_appliance_router(tmp_path):
    """Its connection is a plugin that does not exist: any attempt to log in would fail."""
    inventory = write_inventory(tmp_path / "inventory")
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / "gw.yml").write_text(
        "---\nmpcpu_router_platform: ciscoasa\nansible_connection: megapower_never_connects\n"
    )
    result = ansible_cli.run(
        "ansible-playbook",
        "-i",
        inventory,
        "playbooks/site.yml",
        "--tags",
        "firewall",
        "--limit",
        "gw,localhost",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "PLAY [Firewalls of the PC side and the routers]" in output
    assert "megapower_never_connects" not in output
    assert "TASK [megapower.mpcpu.firewall" not in output
    assert "\ngw " not in output.split("PLAY RECAP")[1]
