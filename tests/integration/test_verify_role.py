"""Role megapower.mpcpu.verify: passed, failed and not probed told apart, and the run judged.

The probes are not run here (the lab tests run them): the role's report entry point gets the
results a verify run would collect, and the site is the example inventory's.
"""

import json
import pathlib

import yaml

import ansible_cli
from ansible_collections.megapower.mpcpu.plugins.module_utils import appendix_d

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "example" / "hosts.yml"
PLAYBOOK = """
- name: Compile the site
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.site_model
      vars: {site_model_show_matrix: false}
- name: Write the verify report
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.verify
"""


def mpcpus():
    groups = yaml.safe_load(INVENTORY.read_text())["all"]["children"]["mpcpu"]["children"]
    return [name for group in groups.values() for name in group["hosts"]]


def pc_side_results(passed=True):
    """What a run without a commissioning probe collects: every flow the PC side starts."""
    return [
        {"mpcpu": name, "row": row.id, "passed": passed, "detail": "seen"}
        for name in mpcpus()
        for row in appendix_d.ROWS
        if appendix_d.initiator(row) == appendix_d.PC
    ]


def report_run(tmp_path, results, *extra):
    if not (tmp_path / "play.yml").exists():
        (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "results.json").write_text(json.dumps({"verify_results": results}))
    return ansible_cli.run(
        "ansible-playbook",
        "-i",
        INVENTORY,
        tmp_path / "play.yml",
        "-e",
        "@%s" % (tmp_path / "results.json"),
        *extra,
        cwd=tmp_path,
    )


def test_rows_nobody_probed_on_the_mpcpu_side_are_reported_and_do_not_fail_the_run(tmp_path):
    result = report_run(tmp_path, pc_side_results())
    assert result.returncode == 0, result.stdout + result.stderr
    report_dir = tmp_path / "mpcpu-verify-example-campus"
    assert "verify example-campus: 15 passed, 0 failed, 20 not probed; report written to %s" % (
        report_dir
    ) in " ".join(result.stdout.split())
    assert "15 passed, 0 failed, 20 not probed" in (report_dir / "report.md").read_text()


def test_the_operator_can_require_the_device_side(tmp_path):
    result = report_run(tmp_path, pc_side_results(), "-e", "verify_require_device_side=true")
    assert result.returncode != 0
    assert "20 of 35 checks not probed (verify_require_device_side is true)" in " ".join(
        result.stdout.split()
    )


def test_a_failed_flow_fails_the_run(tmp_path):
    result = report_run(tmp_path, pc_side_results(passed=False))
    assert result.returncode != 0
    assert "15 of 35 checks failed" in result.stdout


def test_a_verify_option_of_the_wrong_type_is_refused(tmp_path):
    result = report_run(tmp_path, pc_side_results(), "-e", "verify_require_device_side=maybe")
    assert result.returncode != 0
    assert "verify_require_device_side" in result.stdout


COLLECTING_PLAYBOOK = """
- name: Compile the site
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.site_model
      vars: {site_model_show_matrix: false}
- name: Leave what the probe entry point registers on a PC host (its MPCPU-side task skipped)
  hosts: cctv-srv-1
  connection: local
  gather_facts: false
  tasks:
    - name: As registered
      ansible.builtin.set_fact:
        __verify_probe_pc: {results: "{{ probe_results }}"}
        __verify_probe_mpcpu: {skipped: true}
- name: Write the verify report
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.verify
"""


def test_the_report_collects_what_the_probes_registered(tmp_path):
    (tmp_path / "play.yml").write_text(COLLECTING_PLAYBOOK)
    (tmp_path / "results.json").write_text(json.dumps({"probe_results": pc_side_results()}))
    result = ansible_cli.run(
        "ansible-playbook",
        "-i",
        INVENTORY,
        tmp_path / "play.yml",
        "-e",
        "@%s" % (tmp_path / "results.json"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "15 passed, 0 failed, 20 not probed" in " ".join(result.stdout.split())


PROBING_PLAYBOOK = """
- name: Compile the site
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.site_model
      vars: {site_model_show_matrix: false}
- name: Probe from the gateway, which starts no flow (it serves DHCP, which the MPCPUs start)
  hosts: cctv-gw-1
  connection: local
  gather_facts: false
  vars: {ansible_python_interpreter: "{{ ansible_playbook_python }}"}
  tasks:
    - name: Probe
      ansible.builtin.include_role:
        name: megapower.mpcpu.verify
        tasks_from: probe
- name: Show what the probe left
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The PC-side results survive the skipped MPCPU-side task
      ansible.builtin.assert:
        that:
          - hostvars['cctv-gw-1'].__verify_probe_pc.results == []
          - hostvars['cctv-gw-1'].__verify_probe_mpcpu is skipped
"""


def test_the_probe_entry_point_keeps_its_results_when_the_other_side_is_skipped(tmp_path):
    (tmp_path / "play.yml").write_text(PROBING_PLAYBOOK)
    result = ansible_cli.run(
        "ansible-playbook", "-i", INVENTORY, tmp_path / "play.yml", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_listing_the_hosts_of_site_warns_of_no_missing_probe_group():
    result = ansible_cli.run(
        "ansible-playbook", "-i", INVENTORY, ROOT / "playbooks" / "site.yml", "--list-hosts"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Could not match supplied host pattern" not in result.stdout + result.stderr


def test_the_report_names_the_firewall_backend_each_host_applies(tmp_path):
    # As verify.yml reads them, on the controller itself (ansible_connection local), which has
    # no loader of the firewall role: entry point firewall reads "none" for every host.
    firewall_play = PLAYBOOK.replace(
        "- name: Write the verify report",
        "- name: Read the firewall backends\n"
        '  hosts: "{{ none | megapower.mpcpu.appendix_d_groups(routers=true) }}"\n'
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Read\n"
        "      ansible.builtin.include_role: {name: megapower.mpcpu.verify, tasks_from: firewall}\n"
        "      when: mpcpu_router_platform is not defined\n"
        "- name: Write the verify report",
    )
    (tmp_path / "play.yml").write_text(firewall_play)
    result = report_run(tmp_path, pc_side_results(), "-e", "ansible_connection=local")
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "mpcpu-verify-example-campus" / "report.md").read_text()
    section = report.split("\n## Firewalls\n\n", 1)[1].splitlines()
    assert section and all(line.endswith(": none") for line in section), section


NO_ROUTE_PLAYBOOK = """
- name: Compile the site
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: megapower.mpcpu.site_model
      vars: {site_model_show_matrix: false}
- name: Probe the MPCPU side from a host without facts (no default route, no MPCPU address)
  hosts: cctv-gw-1
  connection: local
  gather_facts: false
  vars: {ansible_python_interpreter: "{{ ansible_playbook_python }}", verify_side: mpcpu}
  tasks:
    - name: Probe
      ansible.builtin.include_role:
        name: megapower.mpcpu.verify
        tasks_from: probe
    - name: The probe ran, with nothing to probe
      ansible.builtin.assert:
        that: __verify_probe_mpcpu is not skipped and __verify_probe_mpcpu is not failed
"""


def test_a_probe_host_without_a_default_route_probes_without_a_dhcp_interface(tmp_path):
    (tmp_path / "play.yml").write_text(NO_ROUTE_PLAYBOOK)
    result = ansible_cli.run(
        "ansible-playbook", "-i", INVENTORY, tmp_path / "play.yml", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
