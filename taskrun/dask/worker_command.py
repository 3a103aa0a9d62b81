"""``python -m workers SCHEDULER_ADDRESS``: a Dask worker ready for orchestrator task runs.

A thin layer over Dask's own ``Nanny``/``Worker``: the same worker ``dask worker`` starts,
with the orchestrator's worker plugin installed from the first moment (log forwarding,
log levels, warm imports), so the first task run pays nothing extra. The nanny restarts
the worker process if a task kills it. Stops cleanly on SIGINT/SIGTERM.

    python -m workers tcp://scheduler:8786 --nthreads 2 --name worker-1
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger("workers")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
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
        help="threads running task runs (default: one per CPU core)",
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
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="level of task-run logs kept and forwarded (default: INFO)",
    )
    return parser.parse_args(argv)


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


async def serve(args: argparse.Namespace) -> None:
    """Run one worker (under a nanny unless ``--no-nanny``) until it ends or a signal comes."""
    from distributed import Nanny, Worker

    from taskrun.dask.plugin import OrchestratorPlugin

    server_class: Any = Nanny if args.nanny else Worker
    options: dict[str, Any] = {
        "nthreads": args.nthreads,
        "name": args.name,
        "resources": parse_resources(args.resources),
        "plugins": {OrchestratorPlugin(level=args.log_level.upper(), forward_logs=True)},
    }
    if args.nanny:
        options["memory_limit"] = args.memory_limit
    async with server_class(args.scheduler, **options) as server:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        logger.info(
            "Orchestrator worker %s serving scheduler %s",
            args.name or server.address,
            args.scheduler,
        )
        finished = asyncio.ensure_future(server.finished())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([finished, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(args))
    except (OSError, TimeoutError) as err:
        print(
            f"python -m workers: could not serve scheduler {args.scheduler!r}: {err}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
