"""The MPCPU simulator: the device side of every Appendix D row, for the lab and the tests.

One asyncio process plays many MegaPower CPUs, one per IP address: TFTP for time and
firmware, the activity-log stream and EASY CPU status as servers; snapshot upload, alarm
e-mail, NTP and DHCP as one-shot clients. Standard library only (it runs inside lab hosts);
ports come from the collection's Appendix D table. docs/simulator.md describes it.
"""
