"""Scheduler addresses: which strings name a Dask scheduler, and what is wrong with the rest.

Both halves check an address before they connect: ``DaskTaskRunner(address=...)`` when it is
built, ``python -m workers ADDRESS`` before it starts. A wrong form is a user's typo, so it
is refused at once with the reason and the expected form, instead of surfacing later as a
``ValueError`` from deep inside ``distributed`` (or as a hang, when a web server answers).

Accepted: ``SCHEME://HOST:PORT`` for the network schemes below, ``HOST:PORT`` (Dask reads
it as ``tcp://``), and ``inproc://...`` (a scheduler inside this process). HOST is a name,
an IPv4 address or a bracketed IPv6 address (``tcp://[::1]:8786``). Pure string checks: no
name lookups, no Dask imports.

>>> scheduler_address_problem("tcp://127.0.0.1:8786") is None
True
>>> scheduler_address_problem("127.0.0.1")
'it has no port'
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["EXPECTED_FORMS", "NETWORK_SCHEMES", "address_host", "scheduler_address_problem"]

#: schemes whose addresses are HOST:PORT
NETWORK_SCHEMES = frozenset({"tcp", "tls", "ws", "wss", "ucx"})
#: what a scheduler address looks like, for messages
EXPECTED_FORMS = (
    "tcp://HOST:PORT (e.g. tcp://127.0.0.1:8786), or tls://HOST:PORT for a scheduler "
    "started with TLS certificates"
)
_WEB_SCHEMES = frozenset({"http", "https"})
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


def scheduler_address_problem(address: object) -> str | None:
    """What is wrong with ``address`` as a scheduler address, or None if nothing is.

    >>> scheduler_address_problem("http://127.0.0.1:8787").split(";")[0]
    "http:// is a web address (a dashboard's, perhaps)"
    >>> scheduler_address_problem("tcp://scheduler")
    'it has no port'
    """
    if not isinstance(address, str):
        return f"it is a {type(address).__name__}, not a string"
    if not address or address != address.strip():
        return "it is empty" if not address.strip() else "it has spaces around it"
    scheme, separator, location = address.partition("://")
    if not separator:
        scheme, location = "tcp", address
    elif scheme in _WEB_SCHEMES:
        return (
            f"{scheme}:// is a web address (a dashboard's, perhaps); the scheduler's own "
            "port speaks Dask's protocol (8786 by default)"
        )
    elif scheme == "inproc":
        return None if location else "inproc:// needs the in-process address after it"
    elif scheme not in NETWORK_SCHEMES:
        known = ", ".join(f"{name}://" for name in sorted(NETWORK_SCHEMES | {"inproc"}))
        return f"{scheme}:// is not a Dask protocol (known: {known})"
    return _host_port_problem(location)


def _host_port_problem(location: str) -> str | None:
    """What is wrong with a ``HOST:PORT`` part, or None."""
    if "/" in location or "?" in location:
        return "it has a path after HOST:PORT"
    if location.startswith("["):
        host, bracket, rest = location[1:].partition("]")
        if not bracket:
            return "its IPv6 host has no closing ']'"
        if not rest.startswith(":"):
            return "it has no port"
        port = rest[1:]
        if not _is_ipv6(host):
            return f"{host!r} is not an IPv6 address"
    else:
        host, colon, port = location.rpartition(":")
        if not colon:
            return "it has no port"
        if ":" in host:
            return "an IPv6 host needs brackets, e.g. tcp://[::1]:8786"
        if not host:
            return "it has no host"
        if not _HOST_NAME.fullmatch(host):
            return f"{host!r} is not a host name or IP address"
    if not port.isdigit():
        return f"its port {port!r} is not a number"
    if not 0 < int(port) < 65536:
        return f"its port {port} is outside 1-65535"
    return None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def address_host(address: str) -> str:
    """The host part of a valid network address, without IPv6 brackets.

    >>> address_host("tls://[::1]:8786"), address_host("scheduler:8786")
    ('::1', 'scheduler')
    """
    location = address.partition("://")[2] if "://" in address else address
    host = location.rpartition(":")[0]
    return host[1:-1] if host.startswith("[") else host
