"""file_tree: writes only what differs, never outside dest, nothing in check mode."""

import pytest

from ansible_collections.megapower.mpcpu.plugins.module_utils import file_tree

FILES = {"a.md": "one\n", "firewall/gw/nftables/mpcpu.nft": "table inet mpcpu {}\n"}


def run(tmp_path, files=None, check_mode=False):
    files = FILES if files is None else files
    return file_tree.run({"dest": str(tmp_path), "files": files, "mode": "0644"}, check_mode)


def test_writes_the_tree_then_changes_nothing(tmp_path):
    assert run(tmp_path)["written"] == sorted(FILES)
    assert (tmp_path / "firewall/gw/nftables/mpcpu.nft").read_text() == FILES[
        "firewall/gw/nftables/mpcpu.nft"
    ]
    assert run(tmp_path) == dict(run(tmp_path), changed=False, written=[])


def test_only_the_changed_file_is_written(tmp_path):
    run(tmp_path)
    assert run(tmp_path, dict(FILES, **{"a.md": "two\n"}))["written"] == ["a.md"]


def test_check_mode_writes_nothing(tmp_path):
    result = run(tmp_path, check_mode=True)
    assert result["changed"] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/etc/passwd", "../escape", "x/../../escape", "."])
def test_paths_outside_dest_are_refused(tmp_path, path):
    with pytest.raises(file_tree.FileTreeError, match="files: "):
        run(tmp_path, {path: "x"})
    assert list(tmp_path.iterdir()) == []
