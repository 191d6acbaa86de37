# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a tree of text files ({relative path: text}) under one directory, in one step."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath


class FileTreeError(Exception):
    """A path would leave the directory; the message names it."""


def _checked(path):
    normal = posixpath.normpath(path)
    if posixpath.isabs(path) or normal == ".." or normal.startswith("../") or normal == ".":
        raise FileTreeError("files: %r is not a path inside dest" % (path,))
    return normal


def _current(full_path):
    try:
        with open(full_path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeError):
        return None


def plan(dest, files):
    """Sorted relative paths whose content differs from what ``dest`` holds."""
    checked = {_checked(path): text for path, text in files.items()}
    return sorted(
        path for path, text in checked.items() if _current(os.path.join(dest, path)) != text
    )


def write(dest, files, paths, file_mode=0o644, dir_mode=0o755):
    for path in paths:
        full_path = os.path.join(dest, _checked(path))
        os.makedirs(os.path.dirname(full_path), mode=dir_mode, exist_ok=True)
        with open(full_path, "w", encoding="utf-8") as handle:
            handle.write(files[path])
        os.chmod(full_path, file_mode)


def run(params, check_mode=False):
    changed_paths = plan(params["dest"], params["files"])
    if changed_paths and not check_mode:
        write(params["dest"], params["files"], changed_paths, int(params["mode"], 8))
    return {
        "changed": bool(changed_paths),
        "written": changed_paths,
        "diff": {"before": "", "after": "".join(path + "\n" for path in changed_paths)},
    }
