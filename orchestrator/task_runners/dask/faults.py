"""Dask-level failures of task runs, as states that say what happened.

The task-run executor never raises, so a Dask task only errs when Dask itself gives
up on it: its worker died ``allowed-failures`` times while running it
(``KilledWorker``), it was cancelled, or its arguments could not be loaded on the
worker. Beyond one Dask task, the cluster itself can fail a run: every worker gone for
longer than the runner's ``no_workers_timeout``, or the scheduler lost. Each becomes a
``Failed`` (or, when someone asked for it, ``Cancelled``) state whose message names the
task run and the cause, never a raw Dask traceback. A Dask task that erred only because
an upstream Dask task did is not failed here: the runner resubmits it with the
upstream's final state (see ``repair``), so its trigger decides as usual. No Dask
imports.
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import OrchestratorError
from taskrun.states import Cancelled, Failed, State

#: the reason Dask gives futures it cancelled because the client lost its scheduler
SCHEDULER_LOST_REASON = "scheduler-connection-lost"


class WorkerDiedError(OrchestratorError, RuntimeError):
    """Dask workers kept dying while running a task run, so Dask gave up on it."""

    def __init__(
        self,
        task_run: str,
        deaths: int | None,
        last_worker: str | None,
        memory_deaths: int = 0,
        memory_bytes: int | None = None,
    ) -> None:
        super().__init__(task_run, deaths, last_worker, memory_deaths, memory_bytes)
        self.task_run, self.deaths, self.last_worker = task_run, deaths, last_worker
        #: deaths for which the nanny said the worker exceeded its memory budget
        self.memory_deaths, self.memory_bytes = memory_deaths, memory_bytes

    def __str__(self) -> str:
        times = f"{self.deaths} times" if self.deaths else "repeatedly"
        last = f" (last on {self.last_worker})" if self.last_worker else ""
        head = (
            f"Task run {self.task_run!r}: its Dask worker died {times} while running it{last}, "
            "so Dask gave up on it."
        )
        if self.memory_deaths:
            used = f" (up to {_size(self.memory_bytes)})" if self.memory_bytes else ""
            when = "each time" if self.memory_deaths == self.deaths else _times(self.memory_deaths)
            return (
                f"{head} The nanny restarted the worker {when} because it exceeded its "
                f"memory budget{used}: out of memory. Give workers more memory "
                "(python -m workers ... --memory-limit 8GB) or make the task use less."
            )
        return (
            f"{head} The task may crash its worker process (out of memory, a segfault, "
            "os._exit): fix that, give workers more memory, or raise Dask's "
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


class NoWorkersError(OrchestratorError, RuntimeError):
    """Every Dask worker left and none came back within the runner's ``no_workers_timeout``."""

    def __init__(self, task_run: str, scheduler: str, seconds: float) -> None:
        super().__init__(task_run, scheduler, seconds)
        self.task_run, self.scheduler, self.seconds = task_run, scheduler, seconds

    def __str__(self) -> str:
        seconds = f"{self.seconds:g}" if isinstance(self.seconds, (int, float)) else self.seconds
        return (
            f"Task run {self.task_run!r} did not finish: no Dask workers for "
            f"{seconds} s: the cluster lost all its workers (scheduler "
            f"{self.scheduler}). Start workers (python -m workers {self.scheduler}) and run "
            "the flow again, or wait longer: DaskTaskRunner(no_workers_timeout=...)."
        )


class SchedulerLostError(OrchestratorError, ConnectionError):
    """The orchestrator lost its Dask scheduler while task runs were unfinished."""

    def __init__(self, task_run: str, scheduler: str) -> None:
        super().__init__(task_run, scheduler)
        self.task_run, self.scheduler = task_run, scheduler

    def __str__(self) -> str:
        return (
            f"Task run {self.task_run!r} did not finish: the connection to the Dask scheduler "
            f"at {self.scheduler} was lost (the scheduler stopped or the network failed), and "
            "its Dask tasks with it. Check the scheduler, then run the flow again (with a "
            "new DaskTaskRunner if this one was kept open)."
        )


class ResubmitLimitError(OrchestratorError, RuntimeError):
    """A task run's Dask task erred again after the resubmissions the runner allows."""

    def __init__(self, task_run: str, cause: str, causes: list[str]) -> None:
        super().__init__(task_run, cause, causes)
        self.task_run, self.cause, self.causes = task_run, cause, list(causes)

    def __str__(self) -> str:
        earlier = "; ".join(self.causes) or "none"
        return (
            f"Task run {self.task_run!r}: its Dask task erred again ({self.cause}) after it "
            f"had been resubmitted {len(self.causes)} times (for: {earlier}); the runner "
            "does not resubmit it again, so that a fault cannot loop. Look at the workers' "
            "logs for what keeps failing."
        )


def is_killed_worker(error: BaseException | None) -> bool:
    return type(error).__name__ == "KilledWorker"


def blamed_key(error: BaseException | None) -> Any:
    """The Dask key a ``KilledWorker`` blames (None for other errors)."""
    return getattr(error, "task", None) if is_killed_worker(error) else None


def is_scheduler_lost(error: BaseException | None) -> bool:
    """Whether Dask cancelled a future because the client lost its scheduler."""
    return getattr(error, "reason", None) == SCHEDULER_LOST_REASON


def failure_state(
    task_run: str,
    status: str,
    error: BaseException | None,
    memory_deaths: int = 0,
    memory_bytes: int | None = None,
) -> State:
    """The state of a task run whose Dask task ended in ``status`` with ``error``.

    ``memory_deaths`` (and the largest ``memory_bytes`` seen) say how many of a
    ``KilledWorker``'s deaths the nanny reported as out of memory.
    """
    if status == "cancelled" or type(error).__name__ in ("CancelledError", "FutureCancelledError"):
        return Cancelled(f"Task run {task_run!r} was cancelled on Dask before it finished.")
    if is_killed_worker(error):
        allowed = getattr(error, "allowed_failures", None)
        died = WorkerDiedError(
            task_run,
            allowed + 1 if isinstance(allowed, int) else None,
            _address(error),
            memory_deaths,
            memory_bytes,
        )
        return Failed(str(died), died)
    if status == "lost" or error is None:
        problem = "the cluster lost it (its workers left, or the client disconnected)"
    else:
        problem = f"{type(error).__name__}: {error}"
    failed = DaskTaskError(task_run, problem)
    return Failed(str(failed), failed)


def error_state(error: OrchestratorError) -> State:
    """A ``Failed`` state carrying one of this module's errors (its text as the message)."""
    return Failed(str(error), error)


def _address(error: BaseException | None) -> str | None:
    worker = getattr(error, "last_worker", None)
    return getattr(worker, "address", None) or (str(worker) if worker else None)


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _size(nbytes: int | None) -> str:
    return f"{(nbytes or 0) / (1 << 20):.0f} MiB"
