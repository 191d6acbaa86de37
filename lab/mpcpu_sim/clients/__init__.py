"""What the simulated MPCPU starts itself: snapshot upload, alarm e-mail, NTP, DHCP.

Each client runs once and returns a dict of what happened, or raises ClientError with a
message for a person; the command line turns that into output and an exit status.
"""


class ClientError(Exception):
    pass
