"""What the simulated MPCPU starts itself: snapshot upload, alarm e-mail, NTP, DHCP.

Each client runs once and returns a dict of what happened, or raises ClientError with a
message for a person; the command line turns that into output and an exit status. NTP, alarm
e-mail and DHCP are the collection's own clients (plugins/module_utils/_clients), which the
verify probes and the time module use too.
"""

from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import (  # noqa: E402
    ClientError,
    dhcp,
    sntp,
)
from ansible_collections.megapower.mpcpu.plugins.module_utils._clients import (  # noqa: E402
    smtp_alarm as alarm_email,
)
from mpcpu_sim import table  # noqa: F401 - puts the collection on sys.path first

__all__ = ["ClientError", "alarm_email", "dhcp", "sntp"]
