"""The README's worked example runs as written: its inventory files copied out of the README,
the firmware image where the README puts it, and its commands run as an operator would, from
the site's parent directory without the checkout's ansible.cfg (which hides files/ from the
inventory parser)."""

import os
import pathlib
import re
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
FILE_BLOCK = re.compile(r"^```yaml\n# (mysite/\S+)\n(.*?)^```", re.M | re.S)
COMMAND = re.compile(r"^(ansible-playbook megapower\.mpcpu\.(\w+) -i \S+)", re.M)
IMAGE = ROOT / "inventories" / "example" / "files" / "firmware" / "mpcpu-4.2.bin"


def readme_commands():
    return dict((playbook, line.split()) for line, playbook in COMMAND.findall(README))


def write_the_example(run_dir):
    blocks = FILE_BLOCK.findall(README)
    assert [path for path, _text in blocks] == ["mysite/hosts.yml", "mysite/group_vars/all.yml"]
    for path, text in blocks:
        (run_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / path).write_text(text)
    (run_dir / "mysite" / "files").mkdir()
    shutil.copy(IMAGE, run_dir / "mysite" / "files" / "mpcpu-4.2.bin")


def run_as_an_operator(argv, run_dir):
    environment = dict(os.environ, ANSIBLE_NOCOLOR="1")
    environment.pop("ANSIBLE_CONFIG", None)
    environment["ANSIBLE_COLLECTIONS_PATH"] = str(ROOT / "collections")
    return subprocess.run(
        argv,
        cwd=run_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_readme_names_its_commands_with_an_inventory_file():
    commands = readme_commands()
    assert set(commands) == {"validate", "site", "verify", "render"}
    assert all(argv[3] == "mysite/hosts.yml" for argv in commands.values())


def test_the_worked_example_validates_and_renders_as_written(tmp_path):
    write_the_example(tmp_path)
    for playbook in ("validate", "render"):
        result = run_as_an_operator(readme_commands()[playbook], tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Unable to parse" not in output and "Could not match" not in output, output
    assert (tmp_path / "mpcpu-bundle-mysite" / "port-matrix.md").is_file()
