#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: file_tree
short_description: Write a tree of text files under one directory in one task
version_added: 0.1.0
author: MegaPower automation team (@megapower-mpcpu)
description:
  - Takes a mapping of relative paths to text (as the C(megapower.mpcpu.bundle_files) filter
    returns it) and writes every file whose content differs, creating directories as needed.
  - Paths must stay inside O(dest); an absolute path or one with C(..) is refused.
  - Files already in O(dest) but not in O(files) are left alone.
options:
  dest:
    description: Directory the paths are relative to.
    type: path
    required: true
  files:
    description: Relative path to text.
    type: dict
    required: true
  mode:
    description: Mode of the files written, in octal.
    type: str
    default: "0644"
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - megapower.mpcpu.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports which files would be written and writes none.
  diff_mode:
    support: partial
    details:
      - Lists the paths that change, not their content.
  idempotent:
    support: full
    details:
      - Writes only files whose content differs.
"""

EXAMPLES = r"""
- name: Write the change bundle
  megapower.mpcpu.file_tree:
    dest: /srv/review/bundle
    files: "{{ site_model_compiled | megapower.mpcpu.bundle_files }}"
"""

RETURN = r"""
written:
  description: Relative paths written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["port-matrix.md", "firewall/cctv-gw/nftables/mpcpu.nft"]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.megapower.mpcpu.plugins.module_utils import file_tree  # noqa: E402

ARGUMENT_SPEC = dict(
    dest=dict(type="path", required=True),
    files=dict(type="dict", required=True),
    mode=dict(type="str", default="0644"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = file_tree.run(module.params, check_mode=module.check_mode)
    except (file_tree.FileTreeError, OSError, ValueError) as error:
        module.fail_json(msg=str(error))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
