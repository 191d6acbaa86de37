#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mpcpu_firmware
short_description: Push a firmware image to a MegaPower CPU over TFTP
version_added: 0.1.0
author: MegaPower automation team (@megapower-mpcpu)
description:
  - Sends a firmware image to an American Dynamics MegaPower CPU (MPCPU) with a TFTP write
    (Appendix D row C(time_firmware), where the PC is the TFTP client of the MPCPU).
  - Before anything is sent, refuses an unreadable, empty or oversized O(src) and an O(src)
    whose sha256 is not O(sha256).
  - Idempotent through what the device reports - reads the device's version file first and
    sends nothing when the reported sha256 (or, when the device reports no sha256, the version
    given in O(version)) already matches, unless O(force=true).
  - After the upload, reads the version file again and compares the sha256 (O(verify)).
  - Runs on the management host (usually through C(delegate_to)); O(src) is a path on that host.
  - B(ASSUMPTION) - no public document gives the MPCPU's firmware file names. The defaults
    assume the image is written as C(firmware.bin) and that a read of C(firmware.version)
    returns lines C(version=<v>), C(sha256=<hex>) and C(size=<n>). The names and the patterns
    that read the report are parameters (O(remote_file), O(version_file), O(version_regex),
    O(sha256_regex)).
options:
  src:
    description: Path of the firmware image on the host the module runs on.
    type: path
    required: true
  version:
    description:
      - The version the image carries. Used to decide when the device reports no sha256, and
        checked against the device's report after the upload.
    type: str
  sha256:
    description: Expected sha256 of O(src) (64 hex digits). The module refuses a file that differs.
    type: str
  force:
    description: Send the image even when the device reports that it already holds it.
    type: bool
    default: false
  verify:
    description:
      - Read the version file back after the upload and fail unless its sha256 (and O(version),
        when given) match.
    type: bool
    default: true
  max_size:
    description: Largest image in bytes the module agrees to send.
    type: int
    default: 67108864
  remote_file:
    description: File name the image is written to on the device (an assumption, see above).
    type: str
    default: firmware.bin
  version_file:
    description:
      - File read from the device to learn the firmware it holds (an assumption, see above).
    type: str
    default: firmware.version
  version_regex:
    description: Python regular expression whose first group is the version in the version file.
    type: str
    default: '(?m)^version=(\S+)\s*$'
  sha256_regex:
    description: Python regular expression whose first group is the sha256 in the version file.
    type: str
    default: '(?m)^sha256=([0-9A-Fa-f]{64})\s*$'
  blksize:
    description:
      - TFTP block size to ask for (RFC 2348). The default fills a 1500-byte Ethernet frame.
      - The client falls back to 512 when the device ignores the option.
    type: int
    default: 1428
  windowsize:
    description: TFTP window size to ask for (RFC 7440); unset sends one block per acknowledgement.
    type: int
  total_timeout:
    description: Upper bound in seconds for one upload.
    type: float
    default: 600
  attempts:
    description:
      - How many times the whole upload is tried when a transfer breaks (a timeout, a transfer
        broken mid-way, a network error). A refusal (an ERROR packet from the device other
        than an unknown transfer ID, a bad OACK) and a local file error are not retried.
    type: int
    default: 2
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - megapower.mpcpu.attributes
  - megapower.mpcpu.attributes.actiongroup_tftp
  - megapower.mpcpu.mpcpu
  - megapower.mpcpu.mpcpu.tftp
attributes:
  check_mode:
    support: full
    details:
      - Checks the image and reads the device's report; says what would be sent (name, bytes,
        sha256) and sends nothing.
  diff_mode:
    support: full
    details:
      - Shows the version and sha256 the device reports before and after.
  idempotent:
    support: full
    details:
      - A second run finds the device reporting the image's sha256 and sends nothing.
seealso:
  - module: megapower.mpcpu.mpcpu_time
  - module: megapower.mpcpu.mpcpu_status
"""

EXAMPLES = r"""
- name: Push the firmware named in the inventory
  megapower.mpcpu.mpcpu_firmware:
    host: "{{ mpcpu_ip }}"
    src: "{{ mpcpu_firmware.file }}"
    version: "{{ mpcpu_firmware.version | default(omit) }}"
    sha256: "{{ mpcpu_firmware.sha256 | default(omit) }}"
  delegate_to: "{{ groups['mpcpu_managers'][0] }}"
  when: mpcpu_firmware is defined

- name: Send again even if the device reports the same image, with a window of 8 blocks
  megapower.mpcpu.mpcpu_firmware:
    host: 198.51.100.10
    src: /srv/firmware/mpcpu-4.2.bin
    force: true
    windowsize: 8
  delegate_to: localhost

- name: A device whose version file reads "FW 4.2 build 7" and carries no hash
  megapower.mpcpu.mpcpu_firmware:
    host: 198.51.100.10
    src: /srv/firmware/mpcpu-4.2.bin
    version: "4.2"
    version_file: version.txt
    version_regex: '^FW (\S+)'
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description: Why the image was (or would be) sent or not.
  returned: always
  type: str
  sample: "sent 3145728 bytes to 198.51.100.10 port 69 as firmware.bin: force is set"
sha256:
  description: sha256 of O(src).
  returned: success
  type: str
  sample: 5d41402abc4b2a76b9719d911017c59228b4d3a8e4f7c1d2b6e5a3f4c8d9e0a1
size:
  description: Size of O(src) in bytes.
  returned: success
  type: int
  sample: 3145728
bytes:
  description: Bytes sent (0 when nothing was sent).
  returned: success
  type: int
  sample: 3145728
duration:
  description: Seconds the upload took.
  returned: success
  type: float
  sample: 0.84
throughput_bytes_per_s:
  description: RV(bytes) divided by RV(duration).
  returned: success
  type: float
  sample: 3744914.3
options:
  description: TFTP options the device agreed to (empty when it ignored them or nothing was sent).
  returned: success
  type: dict
  sample: {"blksize": 1428, "tsize": 3145728}
blksize:
  description: Block size the transfer used.
  returned: when the image was sent
  type: int
  sample: 1428
windowsize:
  description: Window size the transfer used.
  returned: when the image was sent
  type: int
  sample: 1
blocks:
  description: Number of DATA blocks in the transfer.
  returned: when the image was sent
  type: int
  sample: 2203
retransmissions:
  description: Packets the client had to send again.
  returned: when the image was sent
  type: int
  sample: 0
attempts:
  description: Uploads tried (0 when nothing was sent).
  returned: success
  type: int
  sample: 1
remote_file:
  description: The device file the image is written to.
  returned: success
  type: str
  sample: firmware.bin
src:
  description: The image that was checked.
  returned: success
  type: str
  sample: /srv/firmware/mpcpu-4.2.bin
device_version_before:
  description: Version the device reported before (null when it reported none).
  returned: success
  type: str
  sample: "4.1"
device_sha256_before:
  description: sha256 the device reported before (null when it reported none).
  returned: success
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
device_version_after:
  description:
    - Version the device reported after the upload.
    - As before when nothing was sent or O(verify=false).
  returned: success
  type: str
  sample: "4.2"
device_sha256_after:
  description: sha256 the device reported after the upload.
  returned: success
  type: str
  sample: 5d41402abc4b2a76b9719d911017c59228b4d3a8e4f7c1d2b6e5a3f4c8d9e0a1
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.megapower.mpcpu.plugins.module_utils import (  # noqa: E402
    mpcpu_firmware,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._mpcpu import (  # noqa: E402
    edge,
)

ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    port=dict(type="int"),
    src=dict(type="path", required=True),
    version=dict(type="str"),
    sha256=dict(type="str"),
    force=dict(type="bool", default=False),
    verify=dict(type="bool", default=True),
    max_size=dict(type="int", default=mpcpu_firmware.DEFAULT_MAX_SIZE),
    remote_file=dict(type="str", default=mpcpu_firmware.DEFAULT_REMOTE_FILE),
    version_file=dict(type="str", default=mpcpu_firmware.DEFAULT_VERSION_FILE),
    version_regex=dict(type="str", default=mpcpu_firmware.DEFAULT_VERSION_REGEX),
    sha256_regex=dict(type="str", default=mpcpu_firmware.DEFAULT_SHA256_REGEX),
    blksize=dict(type="int", default=mpcpu_firmware.DEFAULT_BLKSIZE),
    windowsize=dict(type="int"),
    timeout=dict(type="float", default=1.0),
    retries=dict(type="int", default=5),
    total_timeout=dict(type="float", default=600.0),
    attempts=dict(type="int", default=2),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    edge.execute(module, mpcpu_firmware.run)


if __name__ == "__main__":
    main()
