"""Addresses the machine itself needs: a lab bridge must never cover them.

The machine reaches its package mirrors through its uplink. A lab bridge whose subnet
contains a mirror's address would route the machine's own installs into the lab. Which hosts
those are is read from the machine's apt sources and pip configuration when a lab comes up.
"""

import configparser
import glob
import ipaddress
import os
import re
import socket
import urllib.parse

APT_SOURCES = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]
PIP_CONFIGS = [
    "/etc/pip.conf",
    os.path.expanduser("~/.pip/pip.conf"),
    os.path.expanduser("~/.config/pip/pip.conf"),
]
URL = re.compile(r"\b(?:https?|ftp)://[^\s\]]+")


def _urls_in(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return URL.findall(handle.read())
    except OSError:
        return []


def _pip_urls():
    urls = [os.environ.get(name, "") for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")]
    parser = configparser.ConfigParser()
    parser.read([path for path in PIP_CONFIGS if os.path.exists(path)])
    for section in parser.sections():
        for key in ("index-url", "extra-index-url"):
            urls.extend(parser.get(section, key, fallback="").split())
    return [url for url in urls if url.startswith(("http://", "https://"))]


def mirror_hosts():
    urls = [
        url
        for path in APT_SOURCES
        if not path.endswith(".disabled-by-farm")
        for url in _urls_in(path)
    ]
    hosts = {urllib.parse.urlsplit(url).hostname for url in urls + _pip_urls()}
    return sorted(host for host in hosts if host)


def mirror_addresses():
    """{address: host name} of every mirror this machine resolves now (unresolvable: skipped)."""
    addresses = {}
    for host in mirror_hosts():
        try:
            infos = socket.getaddrinfo(host, None, socket.AF_INET)
        except OSError:
            continue
        for info in infos:
            addresses[ipaddress.ip_address(info[4][0])] = host
    return addresses
