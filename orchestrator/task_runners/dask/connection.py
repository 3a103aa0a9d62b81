"""Reaching a running scheduler: address forms, a bounded handshake, then the Client.

``distributed.Client(address, timeout=3)`` bounds only part of connecting: a port that
accepts and then stays silent holds it for minutes (the handshake read has no deadline),
and a port that answers with anything but Dask's protocol (a web server, another service)
surfaces as ``MemoryError`` or ``OverflowError`` from frame decoding. So before the Client
exists, a probe runs the Dask handshake itself, under one overall deadline:

    check_scheduler_address   the form (tcp://HOST:PORT, ...), before anything connects
    probe                     TCP (and TLS) connect, retried while refused; then read the
                              scheduler's handshake; all within ``timeout`` seconds
    Client                    only once a Dask scheduler answered

The probe runs on its own short-lived thread and event loop (the caller may be inside a
running loop, as in a notebook), and joins it before returning: a failed attempt leaves no
thread behind. Every failure is a ``SchedulerUnreachableError`` naming the address, what
happened and the expected form.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from ssl import SSLError
from typing import Any

from orchestrator.errors import OrchestratorError
from taskrun.dask.addresses import EXPECTED_FORMS, scheduler_address_problem

__all__ = [
    "CONNECT_TIMEOUT",
    "SchedulerAddressError",
    "SchedulerUnreachableError",
    "check_cluster_security",
    "check_scheduler_address",
    "connect_client",
]

#: seconds to wait for a scheduler before giving up (``client_kwargs={"timeout": ...}`` overrides)
CONNECT_TIMEOUT = 20.0
#: schemes the probe speaks; others (inproc://, ucx://, ws://) go straight to the Client
_PROBED_SCHEMES = frozenset({"tcp", "tls"})


class SchedulerUnreachableError(OrchestratorError, ConnectionError):
    """No Dask scheduler answered at the given address in time."""

    def __init__(self, address: str, timeout: float, problem: str) -> None:
        super().__init__(address, timeout, problem)
        self.address, self.timeout, self.problem = address, timeout, problem

    def __str__(self) -> str:
        seconds = f"{self.timeout:g}" if isinstance(self.timeout, (int, float)) else self.timeout
        return (
            f"Could not connect to a Dask scheduler at {self.address!r} within {seconds} "
            f"seconds: {self.problem}. A scheduler address looks like {EXPECTED_FORMS}; "
            "check that `dask scheduler` runs there and that this machine can reach it, "
            "or leave out the address to start a local cluster (on the command line: "
            "--local-cluster instead of --address)."
        )


class SchedulerAddressError(SchedulerUnreachableError, ValueError):
    """The address is not one a Dask scheduler could have: refused before any connection."""

    def __init__(self, address: str, problem: str) -> None:
        OrchestratorError.__init__(self, address, problem)
        self.address, self.timeout, self.problem = address, 0.0, problem

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.address, self.problem))

    def __str__(self) -> str:
        return (
            f"{self.address!r} is not a Dask scheduler address: {self.problem}. "
            f"Expected {EXPECTED_FORMS}."
        )


def check_scheduler_address(address: object) -> None:
    """Refuse an address no scheduler can have (``127.0.0.1``, ``http://...``, ``garbage``).

    Raises:
        SchedulerAddressError: naming the address, what is wrong and the expected form.
    """
    problem = scheduler_address_problem(address)
    if problem is not None:
        if not isinstance(address, str):
            problem += " (for a cluster object, pass address=cluster.scheduler_address)"
        shown = address if isinstance(address, str) else repr(address)
        raise SchedulerAddressError(shown, problem)


def shares_local_disk(address: str | None, cluster_class: object) -> bool:
    """Whether the workers see this process's disk: a ``LocalCluster`` the runner starts
    (on this machine) or one in this process (``inproc://``); not known for others."""
    if address is None:
        return cluster_class is None
    return address.startswith("inproc://")


def check_cluster_security(security: object) -> None:
    """Refuse TLS settings an embedded cluster cannot start with: its scheduler and workers
    need certificates of their own, not only the client's (else "Scheduler failed to
    start" with a ``TypeError`` inside).

    Raises:
        ValueError: naming the missing ``Security`` fields.
    """
    if not getattr(security, "require_encryption", False):
        return
    missing = [
        name
        for name in ("tls_scheduler_cert", "tls_worker_cert", "tls_client_cert")
        if not getattr(security, name, None)
    ]
    if missing:
        raise ValueError(
            f"DaskTaskRunner(security=...) starts a TLS cluster, but the Security has no "
            f"{', '.join(missing)}. Give the scheduler, the workers and the client a "
            "certificate each (one may serve all: Security(tls_ca_file=ca, "
            "tls_scheduler_cert=cert, tls_scheduler_key=key, tls_worker_cert=cert, "
            "tls_worker_key=key, tls_client_cert=cert, tls_client_key=key, "
            "require_encryption=True)), or Security.temporary()."
        )


def connect_client(address: str, security: object | None, client_kwargs: Mapping[str, Any]) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Args:
        address: a checked scheduler address (see ``check_scheduler_address``).
        security: a ``distributed.security.Security`` for TLS, or None (Dask's config).
        client_kwargs: more ``Client`` arguments; ``timeout`` (seconds) bounds the attempt.

    Raises:
        SchedulerUnreachableError: nothing answered as a Dask scheduler within the timeout.
    """
    from dask.utils import parse_timedelta
    from distributed import Client as _Client

    client_class: Any = _Client  # untyped in distributed
    kwargs = {"timeout": CONNECT_TIMEOUT, **client_kwargs}
    if security is not None:
        kwargs["security"] = security
    given = kwargs["timeout"]
    timeout = CONNECT_TIMEOUT if given is None else float(parse_timedelta(given, "seconds"))
    kwargs["timeout"] = timeout
    scheme = address.partition("://")[0] if "://" in address else "tcp"
    if scheme in _PROBED_SCHEMES:
        connection_args = _connection_args(address, scheme, kwargs.get("security"), timeout)
        if connection_args is not None:
            _probe(address, connection_args, timeout)
    try:
        return client_class(address, **kwargs)
    except (OSError, TimeoutError) as err:
        raise SchedulerUnreachableError(address, timeout, _describe(err)) from err


def _connection_args(
    address: str, scheme: str, security: object | None, timeout: float
) -> dict[str, Any] | None:
    """What the probe connects with (the Client's TLS context); None: leave it to the Client."""
    import dask
    from distributed.security import Security

    make_security: Any = Security  # untyped in distributed
    if isinstance(security, Security):
        chosen: Any = security
    else:  # a dict of Security arguments, or nothing: Dask's configuration
        chosen = make_security(**security) if isinstance(security, dict) else make_security()
    args: dict[str, Any] = chosen.get_connection_args("client")
    if scheme == "tls" and args.get("ssl_context") is None:
        if dask.config.get("distributed.client.security-loader", None):
            return None  # the Client loads its credentials itself
        raise SchedulerUnreachableError(
            address,
            timeout,
            "a tls:// address needs TLS settings: pass "
            "security=Security(tls_ca_file=..., tls_client_cert=..., tls_client_key=...) "
            "(distributed.security.Security)",
        )
    return args


def _probe(address: str, connection_args: dict[str, Any], timeout: float) -> None:
    """Raise ``SchedulerUnreachableError`` unless a Dask scheduler answers the handshake."""
    attempt = _Handshake(address, connection_args, timeout)
    thread = threading.Thread(target=attempt.run, name=f"orchestrator-probe {address}", daemon=True)
    thread.start()
    # The attempt ends itself at its deadline; the slack covers closing the socket.
    thread.join(timeout + 5.0)
    if thread.is_alive() or attempt.problem is not None:
        problem = attempt.problem or "the connection attempt did not finish"
        raise SchedulerUnreachableError(address, timeout, problem) from attempt.error


class _Handshake:
    """One probe of ``address``: connect, exchange handshakes, hang up. Runs on its own
    thread with its own event loop; ``problem`` says what failed (None: a scheduler)."""

    def __init__(self, address: str, connection_args: dict[str, Any], timeout: float) -> None:
        self.address, self.connection_args, self.timeout = address, connection_args, timeout
        #: what went wrong, for the error message; None once a scheduler answered
        self.problem: str | None = "the connection attempt did not start"
        self.error: BaseException | None = None
        #: the last refused connection, while retrying
        self.error_seen: BaseException | None = None
        #: how far the attempt got: "connect", then "handshake"
        self.stage = "connect"

    def run(self) -> None:
        try:
            asyncio.run(asyncio.wait_for(self._attempt(), self.timeout))
            self.problem = None
        except TimeoutError as err:  # the overall deadline
            self.error = err
            if self.stage == "connect":
                seen = self.error_seen
                last = f" (last attempt: {_describe(seen)})" if seen else ""
                self.problem = f"no connection in {self.timeout:g} s{last}"
            else:
                self.problem = (
                    "the port accepted the connection but sent no Dask handshake (is "
                    "something other than a Dask scheduler listening there?)"
                )
        except Exception as err:  # bytes from an unknown peer can fail in any way
            self.error = err
            self.problem = self._explain(err)

    async def _attempt(self) -> None:
        from distributed.comm import registry
        from distributed.comm.addressing import parse_address
        from distributed.comm.core import FatalCommClosedError

        scheme, location = parse_address(self.address)
        backend: Any = registry.get_backend(scheme)  # untyped in distributed
        connector = backend.get_connector()
        delay = 0.05
        while True:
            try:
                comm = await connector.connect(location, deserialize=False, **self.connection_args)
                break
            except OSError as err:
                if isinstance(err, FatalCommClosedError) or isinstance(err.__cause__, SSLError):
                    raise  # TLS refused us: retrying cannot help
                self.error_seen = err  # refused, reset: the scheduler may be starting
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        self.stage = "handshake"
        try:
            await comm.write(comm.handshake_info())
            reply = await comm.read()
        finally:
            comm.abort()
        if not isinstance(reply, dict) or "compression" not in reply:
            raise ValueError(f"its handshake is not Dask's: {str(reply)[:80]!r}")

    def _explain(self, err: Exception) -> str:
        if self.stage == "connect":
            return f"connecting failed ({_describe(err)})"
        if isinstance(err, OSError):
            return (
                "the peer closed the connection during the Dask handshake (a tls:// scheduler "
                "reached with tcp://, or TLS settings it refused?): " + _describe(err)
            )
        return (
            "the peer answered with bytes that are not Dask's protocol (a web server or "
            f"another service on that port?): {_describe(err)}"
        )


def _describe(err: BaseException) -> str:
    """``Type: message`` of the error's root cause (Dask wraps socket errors in its own)."""
    while err.__cause__ is not None:
        err = err.__cause__
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
