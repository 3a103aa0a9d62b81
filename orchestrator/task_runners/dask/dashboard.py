"""The dashboard link of a Dask session: the address its dashboard really answers on.

Distributed builds a cluster's link from the scheduler's address. For an in-process
``LocalCluster`` that address is ``inproc://<this machine's IP>/...``, while the runner
binds the dashboard to 127.0.0.1 only, so the link it prints would point at an address
nothing answers on. When the cluster was asked for a loopback dashboard, the link names
that address instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: hosts a dashboard bound to answers on only from this machine
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def dashboard_link(client: Any, cluster: Any) -> str:
    """The session's dashboard link; ``""`` when it has no dashboard."""
    link = str(client.dashboard_link or "")
    host = asked_host(cluster)
    if not link or host not in LOOPBACK:
        return link
    return with_host(link, host)


def asked_host(cluster: Any) -> str | None:
    """The host of the ``dashboard_address`` a ``LocalCluster`` was started with, if any."""
    spec = getattr(cluster, "scheduler_spec", None)
    options = spec.get("options", {}) if isinstance(spec, dict) else {}
    address = options.get("dashboard_address") if isinstance(options, dict) else None
    if not isinstance(address, str) or ":" not in address:
        return None
    host = address.rsplit(":", 1)[0].strip("[]")
    return host or None


def with_host(link: str, host: str) -> str:
    """``link`` with its host replaced by ``host`` (port, path and query kept).

    >>> with_host("http://192.0.2.2:8787/status", "127.0.0.1")
    'http://127.0.0.1:8787/status'
    """
    parts = urlsplit(link)
    if parts.hostname is None or parts.hostname == host:
        return link
    shown = f"[{host}]" if ":" in host else host
    netloc = f"{shown}:{parts.port}" if parts.port is not None else shown
    return urlunsplit(parts._replace(netloc=netloc))
