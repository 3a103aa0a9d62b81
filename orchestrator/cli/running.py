"""``orchestrator run``: run a flow from a file with live progress and an exit status.

The task runner is the flow's own (in-process by default), a ``DaskTaskRunner``
on an embedded ``LocalCluster`` (``--local-cluster``), or one connected to a
running scheduler (``--address``). Exit status: 0 when the flow succeeds (or
pauses for a person), 1 when it fails, 2 when it cannot start, 130 when interrupted
(Ctrl-C: the summary table shows what finished and, as Cancelled, what did not).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

from rich.console import Console

from orchestrator.cli.loading import CommandError, LoadedFlow, load_flow
from orchestrator.cli.params import check_flow_params, collect_params, param_texts
from orchestrator.errors import OrchestratorError
from orchestrator.journal.settings import flow_source
from orchestrator.progress import ProgressDisplay
from orchestrator.progress import run_flow_function as watch_flow_function
from taskrun.states import State

EXIT_SUCCESS, EXIT_FLOW_FAILED, EXIT_USAGE = 0, 1, 2


def run_command(args: argparse.Namespace) -> int:
    """Load, check, run; returns the exit status."""
    if args.workers is not None and not args.local_cluster:
        raise CommandError(
            "--workers only applies with --local-cluster, e.g. --local-cluster --workers 4"
        )
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"--workers needs at least 1 worker, got {args.workers}")
    if args.connect_timeout is not None and args.address is None:
        raise CommandError("--connect-timeout only applies with --address ADDRESS")
    if args.connect_timeout is not None and not 0 < args.connect_timeout < math.inf:
        raise CommandError(
            f"--connect-timeout needs a positive number of seconds, got {args.connect_timeout:g}"
        )
    # Built first: a malformed --address is refused before the flow's file runs.
    runner = make_task_runner(args.address, args.local_cluster, args.workers, args.connect_timeout)
    loaded = load_flow(args.target)
    given = collect_params(args.param, args.params_file)
    params = check_flow_params(loaded, given, param_texts(args.param))
    if args.quiet:
        logging.getLogger("orchestrator").setLevel(logging.WARNING)
    display = None if args.quiet else ProgressDisplay(console=Console())
    try:
        with flow_source(source_of(loaded.path, loaded.variable)):  # for orchestrator resume
            state = run_flow(
                loaded, params, runner, display, False if args.no_journal else None, args.resume
            )
    except KeyboardInterrupt:  # Ctrl-C: what finished, what was cut short; main() exits 130
        if display is not None:
            display.interrupted()
        raise
    except OrchestratorError:
        raise  # already says what went wrong (e.g. an unreachable scheduler) and what to do
    except OSError as err:  # includes TimeoutError: the scheduler did not answer
        if args.address is None:
            raise
        raise CommandError(
            f"could not reach the Dask scheduler at {args.address!r}: {err}. "
            "Check the address and that the scheduler is running."
        ) from err
    if args.quiet:
        print(f"Flow {loaded.name!r} finished in state {state!r}")
    return exit_status(state)


def source_of(path: Path, variable: str) -> str:
    """The journal's note of a flow file: ``/abs/path.py:VARIABLE``."""
    return f"{path.resolve()}:{variable}"


def make_task_runner(
    address: str | None,
    local_cluster: bool,
    workers: int | None,
    connect_timeout: float | None = None,
) -> Any:
    """A ``DaskTaskRunner`` for ``--address``/``--local-cluster``; None keeps the flow's own.

    Raises:
        SchedulerAddressError: ``address`` is not of the form ``tcp://HOST:PORT`` (or
            another Dask scheme); nothing has connected yet.
    """
    if address is None and not local_cluster:
        return None
    try:
        from orchestrator.task_runners import DaskTaskRunner
    except ImportError as err:
        raise CommandError(
            f"running on Dask needs the Dask task runner, which failed to "
            f"import: {err}. Install dask and distributed."
        ) from err
    if address is not None:
        client_kwargs = {"timeout": connect_timeout} if connect_timeout is not None else None
        return DaskTaskRunner(address=address, client_kwargs=client_kwargs)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers} if workers else {})


def run_flow(
    loaded: LoadedFlow,
    params: dict[str, Any],
    runner: Any,
    display: ProgressDisplay | None,
    journal: bool | None = None,
    resume: str | None = None,
) -> State:
    """Run a ``Flow`` or an ``@flow`` function once and return its final state
    (``journal=False``: not recorded in the run journal; ``resume``: the next attempt of
    that journalled run)."""
    progress: Any = display if display is not None else False
    if loaded.is_dag:
        return loaded.obj.run(  # type: ignore[no-any-return]
            parameters=params, task_runner=runner, progress=progress, journal=journal,
            resume=resume,
        )  # fmt: skip
    return run_flow_function(loaded.obj, params, runner, progress, journal, resume)


def run_flow_function(
    flow_function: Any,
    params: dict[str, Any],
    runner: Any,
    progress: Any,
    journal: bool | None = None,
    resume: str | None = None,
) -> State:
    """Call an ``@flow`` function with ``params`` on ``runner`` (None: its own runner)."""
    if runner is not None or journal is not None or resume is not None:
        flow_function = flow_function.with_options(task_runner=runner, journal=journal)
        flow_function._resume_id = resume
    if progress:
        return watch_flow_function(flow_function, params, progress)
    return flow_function(**params)  # type: ignore[no-any-return]


def exit_status(state: State) -> int:
    """0 for a successful or paused flow run, 1 otherwise."""
    return EXIT_SUCCESS if state.is_successful() or state.is_paused() else EXIT_FLOW_FAILED
