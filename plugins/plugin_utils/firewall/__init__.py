# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MegaPower automation team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall renderings of the site model: one validated host policy, many targets.

``policy`` turns a compiled site model into one host's share of the Appendix D flows, as
target-neutral rules over named address sets, and refuses bad input before anything renders.
``targets`` holds one small class per output (nftables, iptables-restore, firewalld, Cisco IOS),
registered in one table.

``boundary`` says which side of the MPCPU site a flow starts on and an address sits on; both
stacks read it: the host renderers and the appliance path (``aerleon_export`` writes the site
boundary as an Aerleon policy, ``appliance`` renders and checks it). ``aerleon_adapter`` is the
only module that imports Aerleon: it checks the installed release and the private hooks used.
"""
