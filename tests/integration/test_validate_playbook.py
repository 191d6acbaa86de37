"""playbooks/validate.yml through real ansible-playbook: a bad site stops before any host."""

import pathlib

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORIES = ROOT / "tests" / "integration" / "inventories"


def run_validate(inventory_dir):
    return ansible_cli.run("ansible-playbook", "-i", inventory_dir, "playbooks/validate.yml")


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
    assert "mpcpu-02: mpcpu_mac: MAC 02:00:00:00:01:10 is also used by mpcpu-03" in output
    assert "groups: mpcpu_ntp_servers: nobody plays the PC side of row ntp" in output
    assert "Traceback" not in output


def test_shipped_example_site_validates_with_its_programmed_port():
    result = run_validate(ROOT / "inventories" / "example")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EASY CPU: UDP MPCPU 4002 / PC any, pc starts, 5 flow(s)" in result.stdout
