"""``python -m workers SCHEDULER_ADDRESS``: a Dask worker ready for orchestrator task runs.

A thin layer over Dask's own ``Nanny``/``Worker``: the same worker ``dask worker`` starts,
with the orchestrator's worker plugin installed from the first moment (log forwarding,
log levels, warm imports), so the first task run pays nothing extra. The nanny restarts
the worker process if a task kills it. Stops cleanly on SIGINT/SIGTERM.

    python -m workers tcp://scheduler:8786 --nthreads 2 --name worker-1

Where it listens: whoever reaches a worker's port can hand it work, so by default the
worker and its nanny listen only on the local interface that reaches the scheduler (for a
scheduler on 127.0.0.1, on 127.0.0.1), never on every interface. ``--host 0.0.0.0`` asks
for every interface (a container whose scheduler connects back over the container
network), ``--listen-address tcp://HOST:PORT`` for one fixed address. With
``--tls-ca-file``/``--tls-cert``/``--tls-key`` the worker speaks TLS to a ``tls://``
scheduler, and only peers holding certificates of that CA reach it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from taskrun.dask.addresses import address_host, scheduler_address_problem

logger = logging.getLogger("workers")

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workers",
        description="Start a Dask worker for orchestrator task runs (a thin layer over "
        "distributed's Nanny and Worker).",
    )
    parser.add_argument(
        "scheduler",
        metavar="SCHEDULER_ADDRESS",
        help="the Dask scheduler, e.g. tcp://scheduler:8786",
    )
    parser.add_argument(
        "--nthreads",
        type=int,
        default=None,
        metavar="N",
        help="threads running task runs, per worker (default: one per CPU core)",
    )
    parser.add_argument(
        "--nworkers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes to start, each under its own nanny (default: 1)",
    )
    parser.add_argument("--name", default=None, help="the worker's name in the dashboard")
    parser.add_argument(
        "--memory-limit",
        default="auto",
        help="memory limit per worker process, e.g. 4GB (default: auto)",
    )
    parser.add_argument(
        "--resources",
        default=None,
        metavar="NAME=AMOUNT[,...]",
        help="resources this worker offers, e.g. GPU=1 (for tasks tagged dask-resource:GPU=1)",
    )
    parser.add_argument(
        "--no-nanny",
        dest="nanny",
        action="store_false",
        help="run the worker in this process (no restart if a task kills it)",
    )
    _add_listening(parser)
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="level of task-run logs kept and forwarded (default: INFO)",
    )
    return parser


def _add_listening(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--host",
        default=None,
        help="the interface the worker and nanny listen on (default: the one that reaches "
        "the scheduler; 0.0.0.0 for every interface)",
    )
    where.add_argument(
        "--listen-address",
        default=None,
        metavar="ADDRESS",
        help="the worker's exact listening address, e.g. tcp://10.0.0.7:9000 (one worker only)",
    )
    parser.add_argument(
        "--dashboard-address",
        default=None,
        metavar="[HOST]:PORT",
        help="serve the worker's dashboard there, e.g. :8789 (on the listening host unless "
        "HOST is given; default: no dashboard)",
    )
    parser.add_argument("--tls-ca-file", default=None, metavar="FILE", help="CA certificate (PEM)")
    parser.add_argument("--tls-cert", default=None, metavar="FILE", help="worker certificate (PEM)")
    parser.add_argument("--tls-key", default=None, metavar="FILE", help="worker private key (PEM)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, checked: a wrong one exits with status 2 and the reason."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = argument_problem(args)
    if problem is not None:
        parser.error(problem)
    return args


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with a parsed command line, or None."""
    problem = scheduler_address_problem(args.scheduler)
    if problem is not None:
        return (
            f"{args.scheduler!r} is not a Dask scheduler address: {problem}; expected "
            "tcp://HOST:PORT (e.g. tcp://scheduler:8786) or tls://HOST:PORT"
        )
    if args.scheduler.startswith("inproc://"):
        return "inproc:// addresses exist only inside one process; use tcp://HOST:PORT"
    if args.nworkers < 1:
        return f"--nworkers needs at least 1 worker, got {args.nworkers}"
    if args.nworkers > 1 and not args.nanny:
        return "--nworkers above 1 needs nannies: leave out --no-nanny"
    if args.listen_address is not None:
        if args.nworkers > 1:
            return "--listen-address names one address: use --host with --nworkers above 1"
        problem = scheduler_address_problem(args.listen_address)
        if problem is not None or args.listen_address.startswith("inproc://"):
            return f"--listen-address {args.listen_address!r} is not PROTOCOL://HOST:PORT"
    tls_files = (args.tls_ca_file, args.tls_cert, args.tls_key)
    is_tls = args.scheduler.startswith("tls://")
    if any(tls_files) and not is_tls:
        return "the --tls-* options need a tls:// scheduler address, e.g. tls://scheduler:8786"
    if any(tls_files) and not all(tls_files):
        return "TLS needs all of --tls-ca-file, --tls-cert and --tls-key"
    if is_tls and not any(tls_files) and not _tls_configured():
        return "a tls:// scheduler needs --tls-ca-file, --tls-cert and --tls-key"
    return None


def _tls_configured() -> bool:
    """Whether Dask's own configuration names a CA file (distributed.comm.tls.*)."""
    import dask.config

    return bool(dask.config.get("distributed.comm.tls.ca-file", None))


def listening_host(args: argparse.Namespace) -> str:
    """The host to listen on: ``--host``, ``--listen-address``'s, or the local address that
    reaches the scheduler.

    Raises:
        OSError: the scheduler's host name does not resolve (or no route reaches it).
    """
    if args.host is not None:
        return str(args.host)
    if args.listen_address is not None:
        return address_host(args.listen_address)
    return local_address_towards(address_host(args.scheduler))


def local_address_towards(host: str, port: int = 9) -> str:
    """This machine's address on the interface that reaches ``host``.

    Connecting a UDP socket sends nothing; it only makes the kernel pick the route, whose
    local end is the answer (127.0.0.1 for a scheduler on this machine's loopback).

    >>> local_address_towards("127.0.0.1")
    '127.0.0.1'
    """
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, kind) as probe:
        probe.connect(address)
        local = str(probe.getsockname()[0])
    if local in ("0.0.0.0", "::"):
        raise OSError(f"no route from this machine to {host!r}")
    return local


def parse_resources(text: str | None) -> dict[str, float] | None:
    """``"GPU=1,MEM=2e9"`` as a dict (None for no resources).

    >>> parse_resources("GPU=1, FPGA=2")
    {'GPU': 1.0, 'FPGA': 2.0}
    """
    if not text:
        return None
    resources = {}
    for item in text.split(","):
        name, sep, amount = item.strip().partition("=")
        try:
            resources[name.strip()] = float(amount)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise SystemExit(f"--resources: {item.strip()!r} is not NAME=AMOUNT (e.g. GPU=1)")
    return resources


def server_options(args: argparse.Namespace, host: str, index: int) -> dict[str, Any]:
    """Keyword arguments of the ``index``-th Nanny (or Worker) this command starts."""
    from taskrun.dask.plugin import OrchestratorPlugin

    name = args.name if args.nworkers == 1 or args.name is None else f"{args.name}-{index}"
    options: dict[str, Any] = {
        "nthreads": args.nthreads,
        "name": name,
        "resources": parse_resources(args.resources),
        "plugins": {OrchestratorPlugin(level=args.log_level.upper(), forward_logs=True)},
        "host": host,
        "security": worker_security(args),
    }
    if args.listen_address is not None:
        port = int(args.listen_address.rpartition(":")[2])
        options["worker_port" if args.nanny else "port"] = port
        options["protocol"] = args.listen_address.partition("://")[0]
    if args.dashboard_address is not None:
        options["dashboard"] = True
        options["dashboard_address"] = _dashboard_address(args.dashboard_address, host)
    if args.nanny:
        options["memory_limit"] = args.memory_limit
    return options


def worker_security(args: argparse.Namespace) -> Any:
    """The ``distributed.security.Security`` of ``--tls-*`` (else Dask's configuration)."""
    from distributed.security import Security

    make_security: Any = Security  # untyped in distributed
    if not args.tls_ca_file:
        return make_security()
    return make_security(
        tls_ca_file=args.tls_ca_file,
        tls_worker_cert=args.tls_cert,
        tls_worker_key=args.tls_key,
        require_encryption=True,
    )


def _dashboard_address(given: str, host: str) -> str:
    """``:8789`` or ``8789`` on the listening host; an address with a host stays as given."""
    port = given[1:] if given.startswith(":") else given
    if not port.isdigit():
        return given
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(args: argparse.Namespace, host: str) -> None:
    """Run the workers (under nannies unless ``--no-nanny``) until they end or a signal comes."""
    from distributed import Nanny, Worker

    server_class: Any = Nanny if args.nanny else Worker
    async with contextlib.AsyncExitStack() as servers:
        started = [
            await servers.enter_async_context(
                server_class(args.scheduler, **server_options(args, host, index))
            )
            for index in range(args.nworkers)
        ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        for server in started:
            logger.info(
                "Orchestrator worker %s serving scheduler %s, listening on %s",
                server.name if server.name is not None else server.address,
                args.scheduler,
                getattr(server, "worker_address", None) or server.address,
            )
        finished = asyncio.ensure_future(asyncio.gather(*(s.finished() for s in started)))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([finished, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        host = listening_host(args)
    except OSError as err:
        print(
            f"python -m workers: cannot tell which interface reaches the scheduler "
            f"{args.scheduler!r} ({err}); pass --host HOST (0.0.0.0 for every interface)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        asyncio.run(serve(args, host))
    except (OSError, TimeoutError) as err:
        print(
            f"python -m workers: could not serve scheduler {args.scheduler!r}: {err}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
