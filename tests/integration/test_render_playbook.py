"""playbooks/render.yml: deterministic bundles, and a diff that shows exactly the change."""

import filecmp
import pathlib
import shutil

import ansible_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]


def render(inventory_dir, bundle_dir):
    result = ansible_cli.run(
        "ansible-playbook",
        "-i",
        inventory_dir,
        "playbooks/render.yml",
        "-e",
        "bundle_dir=%s" % bundle_dir,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def render_from(run_dir, *extra, inventory=ROOT / "inventories" / "example"):
    result = ansible_cli.run(
        "ansible-playbook", "-i", inventory, ROOT / "playbooks" / "render.yml", *extra, cwd=run_dir
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split())


def _identical_trees(first, second):
    comparison = filecmp.dircmp(first, second)
    mismatched = filecmp.cmpfiles(first, second, comparison.common_files, shallow=False)[1]
    return not (comparison.left_only or comparison.right_only or mismatched)


def test_two_renders_of_one_site_are_byte_identical(tmp_path):
    inventory = ROOT / "inventories" / "example"
    render(inventory, tmp_path / "first")
    render(inventory, tmp_path / "second")
    assert _identical_trees(tmp_path / "first", tmp_path / "second")
    assert (tmp_path / "first" / "port-matrix.md").read_text().startswith("# Port matrix")


def test_diff_after_an_inventory_change_shows_only_that_change(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "example", inventory)
    bundle = tmp_path / "bundle"
    render(inventory, bundle)
    hosts_file = inventory / "hosts.yml"
    hosts_file.write_text(hosts_file.read_text().replace("198.51.100.12", "198.51.100.13"))
    render(inventory, bundle)
    diff = (tmp_path / "bundle.diff").read_text()
    changed_lines = [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed_lines, diff
    assert all("198.51.100.12" in line or "198.51.100.13" in line for line in changed_lines), (
        changed_lines
    )
    assert any(line.startswith("-") and "198.51.100.12" in line for line in changed_lines)
    assert any(line.startswith("+") and "198.51.100.13" in line for line in changed_lines)


def test_the_bundle_goes_to_the_directory_the_playbook_runs_from(tmp_path):
    render_from(tmp_path)
    bundle = tmp_path / "mpcpu-bundle-example-campus"
    assert (bundle / "port-matrix.md").read_text().startswith("# Port matrix")
    assert sorted(path.name for path in tmp_path.iterdir()) == [bundle.name, bundle.name + ".diff"]


def test_a_relative_output_dir_is_taken_from_the_directory_the_playbook_runs_from(tmp_path):
    render_from(tmp_path, "-e", "mpcpu_output_dir=out")
    assert (tmp_path / "out" / "mpcpu-bundle-example-campus" / "port-matrix.md").is_file()
    assert (tmp_path / "out" / "mpcpu-bundle-example-campus.diff").is_file()


def test_a_flat_site_renders_with_a_note_instead_of_the_site_router_acl(tmp_path):
    bundle = tmp_path / "bundle"
    render(ROOT / "tests" / "integration" / "inventories" / "flat", bundle)
    firewall = bundle / "firewall"
    assert not (firewall / "site-router-acl.ios").exists()
    note = (firewall / "site-router-acl.md").read_text()
    assert note.startswith("No Appendix D flow of this site crosses between networks")
    assert (firewall / "server" / "nftables" / "mpcpu.nft").read_text().strip()


def test_two_sites_rendered_from_one_directory_keep_their_own_bundles(tmp_path):
    render_from(tmp_path)
    said = render_from(tmp_path, inventory=ROOT / "tests" / "integration" / "inventories" / "flat")
    names = sorted(path.name for path in tmp_path.iterdir())
    assert len(names) == 4 and "mpcpu-bundle-example-campus" in names, names
    assert "bundle written to %s/mpcpu-bundle-" % tmp_path in said


def test_a_bundle_dir_holding_another_site_is_refused_naming_both(tmp_path):
    render_from(tmp_path, "-e", "bundle_dir=shared")
    flat = ROOT / "tests" / "integration" / "inventories" / "flat"
    result = ansible_cli.run(
        "ansible-playbook",
        "-i",
        flat,
        ROOT / "playbooks" / "render.yml",
        "-e",
        "bundle_dir=shared",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    said = " ".join(result.stdout.split())
    assert "%s/shared holds the bundle of site example-campus, not of site " % tmp_path in said
    assert (tmp_path / "shared" / "port-matrix.md").read_text().count("example-campus")


def test_the_diff_shows_a_mail_and_a_time_upstream_moving(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "example", inventory)
    bundle = tmp_path / "bundle"
    render(inventory, bundle)
    group_vars = inventory / "group_vars" / "all.yml"
    group_vars.write_text(
        group_vars.read_text()
        + "smtp_relayhost: '[mail.example.net]:587'\nntp_upstream_servers: [ntp1.example.net]\n"
    )
    render(inventory, bundle)
    diff = (tmp_path / "bundle.diff").read_text()
    assert "+relayhost = [mail.example.net]:587" in diff
    assert "+server ntp1.example.net iburst" in diff
    assert '+  "smtp_relayhost": "[mail.example.net]:587"' in diff
