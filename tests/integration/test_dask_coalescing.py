"""Coalescing on Dask: short task runs submitted one by one share a few Dask tasks.

Each run is still its own task run (own state, retries, logs, failure), whether it comes
from the task-runner contract, a DAG flow's independent tasks or a ``@flow`` loop. A task
not measured yet is probed first (its first calls run alone), one measured or found long
is never gathered, a lone call is sent without anyone waiting for it, and a member that
kills its worker fails alone: its group is split and its batch-mates run again.
Which Dask task ran a run is read from Dask's own thread state inside the body.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator import Flow, context, flow, task
from orchestrator.dag.task import Task
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.shipping import task_identity
from taskrun.wire import TaskRunCall

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

#: worker threads of the session's in-process cluster (the probe's size)
THREADS = 4
RUN_CONTEXT = {"flow_run_id": "7c6d5e4f-coalescing"}


def _dask_key() -> str:
    from distributed.worker import thread_state

    return str(getattr(thread_state, "key", "?"))


@task
def checked(x: int) -> int:
    if x == 13:
        raise ValueError("unlucky 13")
    context.logger.info("run %s done", x)
    return x * 2


@task(max_retries=1, retry_delay=0)
def flaky(x: int) -> tuple[int, int]:
    if x % 10 == 0 and context.task_run_count == 1:
        raise RuntimeError("first attempt fails")
    return x, context.task_run_count


@task
def where(x: int) -> tuple[int, str]:
    return x, _dask_key()


@task
def keys_of(pairs: list[tuple[int, str]]) -> list[tuple[int, str]]:
    return list(pairs)


@task
def slow(x: int) -> int:
    time.sleep(0.3)
    return x


@task
def crash_at(x: int, killer: int) -> int:
    if x == killer:
        os._exit(1)  # as a segfault would
    return x


def _calls(task_: Task, count: int, **inputs: Any) -> list[TaskRunCall]:
    return [
        TaskRunCall(
            task=task_,
            name=f"{task_.name}-0a0b0c0d-{i}",
            inputs={"x": i, **inputs},
            run_context=RUN_CONTEXT,
        )
        for i in range(count)
    ]


def _measured(runner: DaskTaskRunner, task_: Task, seconds: float) -> DaskTaskRunner:
    runner.estimates.add(task_identity(task_), seconds)
    return runner


@pytest.fixture
def runner(inproc_address: str) -> DaskTaskRunner:
    return DaskTaskRunner(address=inproc_address)


def test_short_calls_share_a_few_dask_tasks_and_a_failure_stays_its_own(runner, caplog):
    caplog.set_level(logging.INFO, logger="orchestrator")
    with _measured(runner, checked, 1e-4):
        with runner.gathering():  # nothing goes for a pause of this thread
            handles = [runner.submit(call) for call in _calls(checked, 120)]
        states = [runner.wait(h) for h in handles]
        keys = [runner.describe(h)["dask_key"] for h in handles]
    assert len(set(keys)) <= 10, "the calls went in groups"
    assert all("-group-" in key for key in keys)
    assert [s.is_failed() for s in states] == [i == 13 for i in range(120)]
    assert [s.result() for i, s in enumerate(states) if i != 13] == [
        2 * i for i in range(120) if i != 13
    ]
    with pytest.raises(ValueError, match="unlucky 13"):
        states[13].result()
    logged = {r.task_run_name for r in caplog.records if r.getMessage().startswith("run ")}
    assert logged == {f"checked-0a0b0c0d-{i}" for i in range(120) if i != 13}


def test_each_member_retries_on_its_own(runner):
    with _measured(runner, flaky, 1e-4), runner.gathering():
        handles = [runner.submit(call) for call in _calls(flaky, 40)]
        states = [runner.wait(h) for h in handles]
        keys = {runner.describe(h)["dask_key"] for h in handles}
    assert len(keys) < 40
    assert [s.result() for s in states] == [(i, 2 if i % 10 == 0 else 1) for i in range(40)]


def test_an_unmeasured_task_is_probed_alone_then_its_calls_are_gathered(runner):
    with runner:
        with runner.gathering():
            handles = [runner.submit(call) for call in _calls(where, 60)]
        results = [runner.wait(h).result() for h in handles]
    keys = [key for _, key in results]
    assert [x for x, _ in results] == list(range(60))
    assert len(set(keys[:THREADS])) == THREADS
    assert not any("-group-" in key for key in keys[:THREADS])
    assert len(set(keys[THREADS:])) < 60 - THREADS


def test_a_task_that_turns_out_long_is_never_gathered(runner):
    with runner:
        handles = [runner.submit(call) for call in _calls(slow, 8)]
        assert [runner.wait(h).result() for h in handles] == list(range(8))
        keys = [runner.describe(h)["dask_key"] for h in handles]
    assert len(set(keys)) == 8
    assert not any("-group-" in key for key in keys)


def test_a_call_of_a_task_measured_long_is_sent_at_once(runner):
    with _measured(runner, slow, 1.0):
        handle = runner.submit(_calls(slow, 1)[0])
        assert runner.describe(handle).get("dask_key"), "sent before anyone waits"
        assert runner.wait(handle).result() == 0


def test_calls_are_sent_when_the_caller_pauses_without_waiting_for_them(runner):
    with _measured(runner, checked, 1e-4):
        handles = [runner.submit(call) for call in _calls(checked, 5)[1:]]
        assert runner.describe(handles[0]).get("dask_key"), "a lone call goes at once"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            runner.get_state(h).is_finished() for h in handles
        ):
            time.sleep(0.01)  # get_state never sends anything: the runner did on its own
        assert [runner.get_state(h).result() for h in handles] == [2, 4, 6, 8]


def test_a_dag_fanout_runs_in_groups_each_task_its_own_state(runner):
    with Flow("fanout") as dag:
        calls = [where(x=i) for i in range(150)]
        gathered = keys_of(pairs=calls)
    state = dag.run(task_runner=runner)
    assert state.is_successful()
    pairs = state.result()[gathered].result()
    assert [x for x, _ in pairs] == list(range(150))
    # groups are sized from measured durations, which a loaded machine inflates: 150 alone
    # without coalescing, a few groups on an idle machine, at most half as many under load
    assert len({key for _, key in pairs}) <= 75
    assert all(state.result()[call].is_successful() for call in calls)


def test_a_flow_loop_fans_out_in_groups(runner):
    @flow
    def fanout(n: int) -> Any:
        return keys_of([where(i) for i in range(n)])

    state = fanout.run({"n": 150}, task_runner=runner)
    assert state.is_successful()
    pairs = state.result()
    assert [x for x, _ in pairs] == list(range(150))
    # groups are sized from measured durations, which a loaded machine inflates: 150 alone
    # without coalescing, a few groups on an idle machine, at most half as many under load
    assert len({key for _, key in pairs}) <= 75


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


def test_a_member_that_kills_its_worker_fails_alone(dying_cluster):
    runner = _measured(DaskTaskRunner(address=dying_cluster), crash_at, 1e-4)
    with runner:
        handles = [runner.submit(call) for call in _calls(crash_at, 30, killer=7)]
        states = [runner.wait(h, timeout=60) for h in handles]
        killer_key = runner.describe(handles[7])["dask_key"]
    assert all(s is not None for s in states)
    assert "-group-" not in killer_key, "its group was split, each member on its own"
    assert [s.is_failed() for s in states] == [i == 7 for i in range(30)]
    assert [s.result() for i, s in enumerate(states) if i != 7] == [i for i in range(30) if i != 7]
