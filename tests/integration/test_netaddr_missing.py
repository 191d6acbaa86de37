"""Without netaddr on the controller every filter still loads, and using one says what to install.

netaddr is hidden from Ansible by a module of that name on PYTHONPATH that fails to import,
as a controller with only ansible-core installed would fail.
"""

import ansible_cli

HINT = (
    "megapower.mpcpu needs the Python library netaddr on the Ansible controller: "
    "pip install netaddr"
)
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ site | megapower.mpcpu.site_errors({}, {}) }}"
      vars:
        site:
          name: lobby
          networks: [{name: cctv, cidr: 198.51.100.0/24, kind: shared}]
          management_networks: [198.51.100.0/24]
"""


def without_netaddr(tmp_path):
    shadow = tmp_path / "no-netaddr"
    shadow.mkdir()
    (shadow / "netaddr.py").write_text("raise ImportError(\"No module named 'netaddr'\")\n")
    return {"PYTHONPATH": str(shadow)}


def listed_filters(**environment):
    result = ansible_cli.run("ansible-doc", "-t", "filter", "-l", "megapower.mpcpu", **environment)
    assert result.returncode == 0, result.stderr
    return sorted(line.split()[0] for line in result.stdout.splitlines() if line.strip())


def test_every_filter_is_listed_without_netaddr(tmp_path):
    with_netaddr = listed_filters()
    assert len(with_netaddr) >= 20
    assert listed_filters(**without_netaddr(tmp_path)) == with_netaddr


def test_using_a_filter_without_netaddr_says_what_to_install(tmp_path):
    playbook = tmp_path / "validate.yml"
    playbook.write_text(PLAYBOOK)
    result = ansible_cli.run("ansible-playbook", playbook, **without_netaddr(tmp_path))
    assert result.returncode != 0
    assert HINT in result.stdout + result.stderr
