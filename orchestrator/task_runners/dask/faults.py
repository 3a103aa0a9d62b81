"""Dask-level failures of task runs, as states that say what happened.

The task-run executor never raises, so a Dask task only errs when Dask itself gives
up on it: its worker died ``allowed-failures`` times while running it
(``KilledWorker``), it was cancelled, or its arguments could not be loaded on the
worker. Those become ``Failed`` (or ``Cancelled``) states whose message names the task
run and the cause, never a raw Dask traceback. A Dask task that erred only because an
upstream Dask task did is not failed here: the runner resubmits it with the upstream's
final state (see ``DaskSession``), so its trigger decides as usual. No Dask imports.
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import OrchestratorError
from taskrun.states import Cancelled, Failed, State


class WorkerDiedError(OrchestratorError, RuntimeError):
    """Dask workers kept dying while running a task run, so Dask gave up on it."""

    def __init__(self, task_run: str, deaths: int | None, last_worker: str | None) -> None:
        super().__init__(task_run, deaths, last_worker)
        self.task_run, self.deaths, self.last_worker = task_run, deaths, last_worker

    def __str__(self) -> str:
        times = f"{self.deaths} times" if self.deaths else "repeatedly"
        last = f" (last on {self.last_worker})" if self.last_worker else ""
        return (
            f"Task run {self.task_run!r}: its Dask worker died {times} while running it{last}, "
            "so Dask gave up on it. The task may crash its worker process (out of memory, a "
            "segfault, os._exit): fix that, give workers more memory, or raise Dask's "
            "distributed.scheduler.allowed-failures."
        )


class DaskTaskError(OrchestratorError, RuntimeError):
    """Dask could not run a task run (for a reason other than dying workers)."""

    def __init__(self, task_run: str, problem: str) -> None:
        super().__init__(task_run, problem)
        self.task_run, self.problem = task_run, problem

    def __str__(self) -> str:
        return (
            f"Task run {self.task_run!r} could not run on Dask: {self.problem}. Check that the "
            "workers have the same Python packages as the orchestrator."
        )


def is_killed_worker(error: BaseException | None) -> bool:
    return type(error).__name__ == "KilledWorker"


def blamed_key(error: BaseException | None) -> Any:
    """The Dask key a ``KilledWorker`` blames (None for other errors)."""
    return getattr(error, "task", None) if is_killed_worker(error) else None


def failure_state(task_run: str, status: str, error: BaseException | None) -> State:
    """The state of a task run whose Dask task ended in ``status`` with ``error``."""
    if status == "cancelled" or type(error).__name__ in ("CancelledError", "FutureCancelledError"):
        return Cancelled(f"Task run {task_run!r} was cancelled on Dask before it finished.")
    if is_killed_worker(error):
        allowed = getattr(error, "allowed_failures", None)
        died = WorkerDiedError(
            task_run, allowed + 1 if isinstance(allowed, int) else None, _address(error)
        )
        return Failed(str(died), died)
    if status == "lost" or error is None:
        problem = "the cluster lost it (its workers left, or the client disconnected)"
    else:
        problem = f"{type(error).__name__}: {error}"
    failed = DaskTaskError(task_run, problem)
    return Failed(str(failed), failed)


def _address(error: BaseException | None) -> str | None:
    worker = getattr(error, "last_worker", None)
    return getattr(worker, "address", None) or (str(worker) if worker else None)
