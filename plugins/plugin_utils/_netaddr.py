# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netaddr for the controller-side code, or a stand-in that says how to install it.

Without netaddr every filter still loads (``ansible-doc -t filter -l megapower.mpcpu`` lists
them all); the first use of netaddr raises an AnsibleError naming what to install.
"""

from ansible.errors import AnsibleError

MISSING_NETADDR = (
    "megapower.mpcpu needs the Python library netaddr on the Ansible controller: "
    "pip install netaddr"
)


class _MissingNetaddr:
    """Stands in for the netaddr module: any attribute raises the install hint."""

    def __init__(self, import_error):
        self._import_error = import_error

    def __getattr__(self, name):
        raise AnsibleError(MISSING_NETADDR) from self._import_error


try:
    import netaddr
except ImportError as error:
    netaddr = _MissingNetaddr(error)


__all__ = ["MISSING_NETADDR", "netaddr"]
