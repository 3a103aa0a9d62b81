"""Who crashed a worker (``deaths``), and how the Dask runner says so (``faults``). Pure."""

from __future__ import annotations

import pytest

from orchestrator.task_runners.dask.cluster_watch import NO_WORKERS_TIMEOUT, no_workers_seconds
from orchestrator.task_runners.dask.deaths import DeathLedger, Role
from orchestrator.task_runners.dask.faults import (
    NoWorkersError,
    ResubmitLimitError,
    SchedulerLostError,
    WorkerDiedError,
    failure_state,
)


class KilledWorker(Exception):
    """Stands in for Dask's exception of that name (``faults`` matches it by name)."""

    def __init__(self, task: str, allowed_failures: int) -> None:
        super().__init__(task, None, allowed_failures)
        self.task, self.last_worker, self.allowed_failures = task, "tcp://w:1", allowed_failures


def test_the_first_in_line_is_the_culprit_of_a_sudden_death_and_the_rest_are_bystanders() -> None:
    ledger = DeathLedger()
    for worker in ("tcp://a:1", "tcp://b:1", "tcp://c:1"):
        ledger.record(worker, ["killer", "child-1", "child-2"], running=[])
    assert ledger.verdict("killer").role is Role.CULPRIT
    assert ledger.verdict("child-1").role is Role.BYSTANDER
    assert len(ledger.verdict("child-2").deaths) == 3


def test_running_reports_are_not_trusted_for_a_sudden_death() -> None:
    """A child that finished just before the killer started still looks running."""
    ledger = DeathLedger()
    ledger.record("tcp://a:1", ["killer", "child-0"], running=["child-0"])
    assert ledger.verdict("killer").role is Role.CULPRIT
    assert ledger.verdict("child-0").role is Role.BYSTANDER


def test_for_a_memory_restart_the_task_reported_running_is_the_culprit() -> None:
    ledger = DeathLedger()
    ledger.record("tcp://a:1", ["queued", "hog"], running=["hog"])
    ledger.memory_restart("tcp://a:1", 900 << 20)
    assert ledger.verdict("hog").role is Role.CULPRIT
    assert ledger.verdict("hog").memory_deaths == 1
    assert ledger.verdict("hog").memory_bytes == 900 << 20
    assert ledger.verdict("queued").role is Role.BYSTANDER


def test_one_death_as_the_culprit_is_enough_to_be_failed() -> None:
    ledger = DeathLedger()
    ledger.record("tcp://a:1", ["other", "task"], running=[])
    ledger.record("tcp://b:1", ["task"], running=[])
    assert ledger.verdict("task").role is Role.CULPRIT


def test_without_recorded_deaths_dask_has_the_last_word() -> None:
    assert DeathLedger().verdict("unknown").role is Role.CULPRIT


def test_each_resubmission_cause_names_its_deaths() -> None:
    ledger = DeathLedger()
    ledger.record("tcp://a:1", ["killer", "child"], running=[])
    first = ledger.verdict("child").cause
    ledger.forget(["child"])
    ledger.record("tcp://b:1", ["killer", "child"], running=[])
    assert first != ledger.verdict("child").cause
    assert "#1" in first
    assert "tcp://a:1" in first


def test_a_killed_worker_message_says_how_often_and_what_the_nanny_said() -> None:
    state = failure_state("load-1", "error", KilledWorker("load-1-k", 2), 3, 700 << 20)
    assert isinstance(state.data, WorkerDiedError)
    message = state.message or ""
    assert "Task run 'load-1': its Dask worker died 3 times while running it" in message
    assert "The nanny restarted the worker each time because it exceeded its memory" in message
    assert "(up to 700 MiB): out of memory" in message
    twice = failure_state("load-1", "error", KilledWorker("load-1-k", 2), 2).message or ""
    assert "restarted the worker 2 times because" in twice
    assert "--memory-limit" in message


def test_the_no_workers_and_lost_scheduler_messages_name_the_scheduler() -> None:
    no_workers = str(NoWorkersError("load-1", "tcp://s:8786", 3.0))
    assert "no Dask workers for 3 s: the cluster lost all its workers" in no_workers
    assert "python -m workers tcp://s:8786" in no_workers
    lost = str(SchedulerLostError("load-1", "tcp://s:8786"))
    assert "Dask scheduler at tcp://s:8786 was lost" in lost
    limit = str(ResubmitLimitError("load-1", "upstream 'x' erred", ["upstream 'x' erred"]))
    assert "resubmitted 1 times" in limit
    assert "does not resubmit it again" in limit


@pytest.mark.parametrize(
    ("option", "seconds"), [(3, 3.0), (0.5, 0.5), (None, None), ("config", NO_WORKERS_TIMEOUT)]
)
def test_no_workers_timeout_takes_seconds_none_or_the_config(
    option: float | str | None, seconds: float | None
) -> None:
    assert no_workers_seconds(option) == seconds


def test_no_workers_timeout_follows_dask_config_when_set() -> None:
    import dask

    with dask.config.set({"distributed.scheduler.no-workers-timeout": "7s"}):
        assert no_workers_seconds("config") == 7.0


@pytest.mark.parametrize("option", [0, -1, "soon", True])
def test_a_wrong_no_workers_timeout_is_refused_naming_it(option: object) -> None:
    with pytest.raises(ValueError, match=r"no_workers_timeout=.*expected seconds"):
        no_workers_seconds(option)  # type: ignore[arg-type]
