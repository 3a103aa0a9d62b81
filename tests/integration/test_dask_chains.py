"""Fusing chains on Dask: a chain of short links runs as one Dask task per segment.

Each link is still its own task run, with its own state: a failing link fails alone and
its downstream links see it through their triggers, a link that waits to retry holds
back only the links that read it, and a link that kills its worker is blamed alone (its
group is split, the links after it read the new Dask tasks). Segments end where a link
is long or needs other Dask resources. Which Dask task ran a link is read from Dask's
own thread state inside the body.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator import Flow, context, flow, task
from orchestrator.dag.task import Task
from orchestrator.engine.state import Failed, Success, TriggerFailed
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.shipping import task_identity

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

#: a link's value: how many links ran before it, and the Dask key each one ran in
Trail = tuple[int, tuple[str, ...]]


def _dask_key() -> str:
    from distributed.worker import thread_state

    return str(getattr(thread_state, "key", "?"))


@task
def step(trail: Trail | None = None) -> Trail:
    count, keys = trail or (0, ())
    return count + 1, (*keys, _dask_key())


@task
def sleepy(trail: Trail) -> Trail:
    time.sleep(0.05)
    count, keys = trail
    return count + 1, (*keys, _dask_key())


@task(tags=["dask-resource:GPU=1"])
def on_gpu(trail: Trail) -> Trail:
    count, keys = trail
    return count + 1, (*keys, _dask_key())


@task
def fails_at(trail: Trail, at: int) -> Trail:
    if trail[0] == at:
        raise ValueError(f"link {at} fails")
    return step.run(trail)


@task(max_retries=1, retry_delay=0.3)
def retried(trail: Trail) -> Trail:
    if context.task_run_count == 1:
        raise RuntimeError("first attempt fails")
    return step.run(trail)


@task
def kills_at(trail: Trail, at: int) -> Trail:
    if trail[0] == at:
        os._exit(1)  # as a segfault would
    return step.run(trail)


def _measured(runner: DaskTaskRunner, *tasks: Task, seconds: float = 1e-4) -> DaskTaskRunner:
    for task_ in tasks:
        runner.estimates.add(task_identity(task_), seconds)
    return runner


def _chain(links: list[Task], **inputs: Any) -> tuple[Flow, list[Any]]:
    """A DAG flow calling ``links`` one after another, each reading the one before."""
    with Flow("chain") as dag:
        calls = [links[0]()]
        for link in links[1:]:
            calls.append(link(trail=calls[-1], **inputs))
    return dag, calls


@pytest.fixture
def runner(inproc_address: str) -> DaskTaskRunner:
    return DaskTaskRunner(address=inproc_address)


def test_a_chain_of_short_links_runs_in_a_few_dask_tasks(runner):
    dag, calls = _chain([step] * 300)
    state = dag.run(task_runner=runner)
    assert state.is_successful()
    count, keys = state.result()[calls[-1]].result()
    assert count == 300
    assert len(set(keys)) <= 30, "links ran together, not one Dask task each"
    assert [state.result()[c].result()[0] for c in calls] == list(range(1, 301))


def test_a_flow_loop_chain_runs_in_a_few_dask_tasks(runner):
    @flow
    def chained(n: int) -> Any:
        trail = step()
        for _ in range(n - 1):
            trail = step(trail)
        return trail

    state = chained.run({"n": 200}, task_runner=runner)
    count, keys = state.result()
    assert count == 200
    assert len(set(keys)) <= 40, "links ran together (a slow loop sends more groups)"


def test_a_failing_link_fails_alone_and_the_links_after_it_see_it(runner):
    dag, calls = _chain([step] + [fails_at] * 19, at=9)
    with _measured(runner, step, fails_at):
        state = dag.run(task_runner=runner)
    kinds = [type(state.result()[c]) for c in calls]
    assert kinds == [Success] * 9 + [Failed] + [TriggerFailed] * 10
    with pytest.raises(ValueError, match="link 9 fails"):
        state.result()[calls[9]].result()


def test_a_link_waiting_to_retry_holds_back_only_the_links_that_read_it(runner):
    with Flow("retry-in-a-chain") as dag:
        head = step()
        waiting = retried(trail=head)
        after = step(trail=step(trail=waiting))
        beside = step(trail=step(trail=head))
    with _measured(runner, step, retried):
        state = dag.run(task_runner=runner)
    assert state.is_successful()
    assert state.result()[after].result()[0] == 4
    assert state.result()[beside].result()[0] == 3
    keys = state.result()[after].result()[1]
    assert len(set(keys)) == 1, "the retrying link and its readers stayed in one Dask task"


def test_a_long_link_splits_the_chain(runner):
    dag, calls = _chain([step, step, step, sleepy, step, step])
    _measured(runner, step)
    _measured(runner, sleepy, seconds=1.0)
    state = dag.run(task_runner=runner)
    keys = state.result()[calls[-1]].result()[1]
    assert keys[0] == keys[1] == keys[2]
    assert keys[4] == keys[5]
    assert len({keys[0], keys[3], keys[4]}) == 3
    assert "-group-" not in keys[3], "the long link ran alone"


@pytest.fixture(scope="module")
def gpu_address() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        resources={"GPU": 1},
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def test_a_link_needing_other_resources_splits_the_chain(gpu_address):
    dag, calls = _chain([step, step, on_gpu, step, step])
    runner = _measured(DaskTaskRunner(address=gpu_address), step, on_gpu)
    state = dag.run(task_runner=runner)
    assert state.is_successful()
    keys = state.result()[calls[-1]].result()[1]
    assert keys[0] == keys[1]
    assert keys[3] == keys[4]
    assert len({keys[0], keys[2], keys[3]}) == 3


@pytest.fixture(scope="module")
def dying_cluster() -> Iterator[str]:
    """Two single-thread worker processes; Dask gives up on a task after one death."""
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        yield cluster.scheduler_address


def test_a_link_that_kills_its_worker_is_blamed_alone(dying_cluster):
    dag, calls = _chain([step] + [kills_at] * 9, at=4)
    runner = _measured(DaskTaskRunner(address=dying_cluster), step, kills_at)
    state = dag.run(task_runner=runner)
    kinds = [type(state.result()[c]) for c in calls]
    assert kinds == [Success] * 4 + [Failed] + [TriggerFailed] * 5
    assert [state.result()[c].result()[0] for c in calls[:4]] == [1, 2, 3, 4]
