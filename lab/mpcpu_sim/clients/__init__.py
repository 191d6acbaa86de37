"""What the simulated MPCPU starts itself: snapshot upload, alarm e-mail, NTP, DHCP.

Each client runs once and returns a dict of what happened, or raises ClientError with a
message for a person; the command line turns that into output and an exit status. NTP, alarm
e-mail and DHCP are the collection's own clients (plugins/module_utils/_clients), which the
verify probes and the time module use too.
"""

from mpcpu_sim.table import collection_module

ClientError = collection_module("_clients").ClientError
alarm_email = collection_module("_clients.smtp_alarm")
dhcp = collection_module("_clients.dhcp")
sntp = collection_module("_clients.sntp")
