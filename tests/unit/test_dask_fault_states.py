"""Dask-level failures as states (``dask_faults``): messages that say what happened. Pure."""

from __future__ import annotations

from orchestrator.task_runners.dask.faults import (
    DaskTaskError,
    WorkerDiedError,
    blamed_key,
    failure_state,
)


class KilledWorker(Exception):
    """Stands in for distributed's exception of that name (matched by name)."""

    def __init__(self, task: str, last_worker: object, allowed_failures: int) -> None:
        super().__init__(task, last_worker, allowed_failures)
        self.task, self.last_worker, self.allowed_failures = task, last_worker, allowed_failures


class Worker:
    address = "tcp://10.0.0.7:40000"


def test_dying_workers_fail_the_run_with_a_message_not_a_dask_traceback() -> None:
    state = failure_state("crash-00000000-3", "error", KilledWorker("key-3", Worker(), 2))
    assert state.is_failed()
    assert isinstance(state.data, WorkerDiedError)
    assert state.message.startswith(
        "Task run 'crash-00000000-3': its Dask worker died 3 times "
        "while running it (last on tcp://10.0.0.7:40000)"
    )
    assert "allowed-failures" in state.message
    assert blamed_key(KilledWorker("key-3", Worker(), 2)) == "key-3"


def test_a_cancelled_dask_task_is_cancelled() -> None:
    assert failure_state("t-0", "cancelled", None).is_cancelled()


def test_other_dask_errors_name_the_run_and_the_error() -> None:
    state = failure_state("t-0", "error", ModuleNotFoundError("No module named 'etl'"))
    assert isinstance(state.data, DaskTaskError)
    assert "Task run 't-0' could not run on Dask: ModuleNotFoundError" in state.message
