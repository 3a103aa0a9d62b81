"""Faults on Dask: dying workers, workers that keep dying, unpicklable tasks.

Each test that kills workers gets a cluster of its own (two nanny-managed worker
processes, which the nannies restart), so no other test sees the deaths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest

from orchestrator import Flow, task
from orchestrator.engine.state import Failed, Success, TriggerFailed
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.faults import WorkerDiedError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@task
def dies_once(marker: str, value: int) -> int:
    """Kills its worker process on the first attempt (no marker yet), then succeeds."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os._exit(1)
    return value * 2


@task
def always_dies(x: int) -> int:
    if x == 3:
        os._exit(1)
    return x


@task(batch_size=6)
def batched_dies(x: int) -> int:
    if x == 3:
        os._exit(1)
    return x


@task
def plus_one(x: int) -> int:
    return x + 1


@pytest.fixture
def dying_cluster() -> Iterator[str]:
    """Two worker processes; Dask gives up on a task after its second worker death.

    Dask counts a worker's death against every task it had been *sent*, executing or
    queued; with the default ``worker-saturation`` (1.1) a one-thread worker is sent two
    tasks, so a bystander queued behind the killer can be blamed too. Saturation 1.0
    sends one task per thread, so a death is blamed only on the task that caused it.
    """
    from distributed import LocalCluster

    settings = {
        "distributed.scheduler.allowed-failures": 1,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with (
        dask.config.set(settings),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
    ):
        yield cluster.scheduler_address


def test_a_worker_killed_mid_task_is_rescheduled_and_the_flow_completes(
    dying_cluster: str, tmp_path: Path
) -> None:
    marker = tmp_path / "died-once"
    with Flow("survives") as flow:
        doubled = dies_once(str(marker), 21)
        after = plus_one(doubled)
    state = flow.run(task_runner=DaskTaskRunner(address=dying_cluster))
    assert marker.exists(), "the first attempt killed its worker"
    assert state.is_successful()
    assert state.result()[after].result() == 43


def test_a_task_that_keeps_killing_workers_fails_saying_so_and_the_flow_goes_on(
    dying_cluster: str,
) -> None:
    with Flow("keeps-dying") as flow:
        results = always_dies.map(x=[1, 2, 3])
        after = plus_one.map(x=results)
    state = flow.run(task_runner=DaskTaskRunner(address=dying_cluster))
    children = state.result()[results].map_states
    assert [type(s) for s in children] == [Success, Success, Failed]
    assert "its Dask worker died 2 times while running it" in children[2].message
    assert "KilledWorker" not in children[2].message
    with pytest.raises(WorkerDiedError):
        children[2].result()
    assert [type(s) for s in state.result()[after].map_states] == [Success, Success, TriggerFailed]


def test_in_a_batch_only_the_child_that_kills_workers_fails(dying_cluster: str) -> None:
    with Flow("batch-dies") as flow:
        results = batched_dies.map(x=list(range(12)))
    state = flow.run(task_runner=DaskTaskRunner(address=dying_cluster))
    children = state.result()[results].map_states
    assert [s.is_failed() for s in children] == [i == 3 for i in range(12)]
    assert [s.result() for i, s in enumerate(children) if i != 3] == [
        i for i in range(12) if i != 3
    ]
