"""What makes a base URL's host and port usable, checked before anything is sent.

httpx refuses a malformed port or bracket only when the first request is built (an
``InvalidURL`` from deep inside it), and takes ``http://`` with no host at all, to
fail later as a network error. A setting is checked where it is read, so that its
error can say where it came from, and before any warning about it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_PORT = re.compile(r"(?::(\d*))?")
_ASCII_LABEL = re.compile(r"[A-Za-z0-9_-]+")
MAX_PORT = 65535


def host_problem(url: str) -> str | None:
    """Why ``url``'s host or port cannot be used (a phrase), or None when they can."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed or invalid [IPv6] address
        return "its host is not a valid address (an unclosed or invalid [IPv6] bracket)"
    host_port = parts.netloc.rpartition("@")[2]
    if host_port.startswith("["):
        host, _, after = host_port[1:].partition("]")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"its host [{host}] is not a valid IPv6 address"
    else:
        host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
        after = f":{port}" if ":" in host_port else ""
    port_match = _PORT.fullmatch(after)
    if port_match is None or (port_match.group(1) and not
                              0 < int(port_match.group(1)) <= MAX_PORT):
        return f"its port {after.removeprefix(':')!r} is not a number from 1 to {MAX_PORT}"
    if not host:
        return "its host is missing"
    if host_port.startswith("["):
        return None
    return _name_problem(host)


def _name_problem(host: str) -> str | None:
    """Why a host name (or IPv4 address) cannot be used, or None."""
    labels = host.removesuffix(".").split(".")
    for label in labels:
        if not label:
            return f"its host name {host!r} has an empty part (two dots in a row)"
        if not all(c.isalnum() or c in "-_" for c in label):
            return (f"its host name {host!r} holds characters no host name has "
                    "(a space, '%', '\\'...)")
        if label.isascii():
            if not _ASCII_LABEL.fullmatch(label):  # letters of other scripts pass isalnum
                return (f"its host name {host!r} holds characters no host name has "
                        "(a space, '%', '\\'...)")
            if label.lower().startswith("xn--"):
                try:
                    label.encode("ascii").decode("idna")
                except UnicodeError:
                    return f"its host name {host!r} has a malformed 'xn--' part"
            continue
        try:
            label.encode("idna")
        except UnicodeError:
            return f"its host name {host!r} is not a valid international domain name"
    return None
