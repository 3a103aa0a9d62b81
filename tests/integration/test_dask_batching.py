"""Adaptive batching of mapped children on Dask: faster, and still one task run per child.

Children run several per Dask task, yet each keeps its own state, retries, map index,
logs and live state, and a failing child does not fail its batch-mates. Long children
get batches of one, so they spread over every worker thread; ``batch_size=1`` turns
batching off and ``batch_size=N`` fixes it. Checked through the task-runner contract
(handles, ``describe``'s Dask keys) on the in-process session cluster.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Flow, context, task
from orchestrator.core import Edge
from orchestrator.dag.task import Task
from orchestrator.task_runners import DaskTaskRunner
from taskrun.warm_up import add_warm_up
from taskrun.wire import TaskRunCall, UpstreamRef

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def checked(x: int) -> int:
    if x == 13:
        raise ValueError("unlucky 13")
    context.logger.info("child %s done", x)
    return x * 2


@task(max_retries=1, retry_delay=0)
def flaky_child(x: int) -> tuple[int, int]:
    if x % 10 == 0 and context.task_run_count == 1:
        raise RuntimeError("first attempt fails")
    return context.get("map_index"), context.task_run_count


@task
def slow(x: int) -> int:
    time.sleep(0.3)
    return x


@task(batch_size=10)
def wait_for_file(x: int, path: str) -> int:
    deadline = time.monotonic() + 20
    while x == 0 and not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return x


@task
def cold_start(x: int) -> int:
    if x < 8:  # the probe's children pay a one-off cost, as a first file opened does
        time.sleep(0.02)
    return x


@task
def very_cold_start(x: int) -> int:
    if x < 2:  # half the probe (4 threads): ~0.1 s a child, read alone as batches of one
        time.sleep(0.2)
    return x


@task
def warming_up(x: int) -> int:
    if x < 400:  # as the first cache checks of a flow run read the index in bulk
        time.sleep(0.005)
        add_warm_up(0.005)
    return x


@task(batch_size=1)
def unbatched(x: int) -> int:
    return x


@task(batch_size=7)
def in_sevens(x: int) -> int:
    return x


def children_calls(
    child: Task, upstream: Any, count: int, inputs: dict[str, Any] | None = None
) -> list[TaskRunCall]:
    edge = Edge(numbers, child, key="x", mapped=True)
    return [
        TaskRunCall(
            task=child,
            name=f"{child.name}-0a0b0c0d-{i}",
            map_index=i,
            inputs=inputs or {},
            upstream=(UpstreamRef(edge, (upstream,), index=i),),
            run_context={"flow_run_id": "5e6f7a8b-batching"},
        )
        for i in range(count)
    ]


def run_level(
    runner: DaskTaskRunner, child: Task, count: int, inputs: dict[str, Any] | None = None
) -> tuple[list[Any], list[str]]:
    """Submit ``count`` children of ``child`` over numbers(count); their handles and keys."""
    source = runner.submit(
        TaskRunCall(task=numbers, name="numbers-0a0b0c0d-0", inputs={"n": count})
    )
    assert runner.shape(source).length == count
    handles = runner.submit_many(children_calls(child, source, count, inputs))
    return handles, [runner.describe(h)["dask_key"] for h in handles]


@pytest.fixture
def runner(inproc_address: str) -> DaskTaskRunner:
    return DaskTaskRunner(address=inproc_address)


def test_batched_children_keep_their_own_states_and_a_failure_stays_its_own(runner, caplog):
    caplog.set_level(logging.INFO, logger="orchestrator")
    with runner:
        handles, keys = run_level(runner, checked, 60)
        states = [runner.wait(h) for h in handles]
    assert len(set(keys)) < 60, "children ran in batches"
    assert [s.is_failed() for s in states] == [i == 13 for i in range(60)]
    assert [s.result() for i, s in enumerate(states) if i != 13] == [
        2 * i for i in range(60) if i != 13
    ]
    with pytest.raises(ValueError, match="unlucky 13"):
        states[13].result()
    logged = {r.task_run_name for r in caplog.records if r.getMessage().startswith("child ")}
    assert logged == {f"checked-0a0b0c0d-{i}" for i in range(60) if i != 13}


def test_each_batched_child_retries_on_its_own_and_knows_its_map_index(runner):
    with runner:
        handles, keys = run_level(runner, flaky_child, 40)
        states = [runner.wait(h) for h in handles]
    assert len(set(keys)) < 40
    assert [s.result() for s in states] == [(i, 2 if i % 10 == 0 else 1) for i in range(40)]
    assert all(s.run_count in (0, 1, 2) for s in states)


def test_long_children_get_batches_of_one_so_they_spread_over_every_thread(runner):
    with runner:
        handles, keys = run_level(runner, slow, 16)
        assert [runner.wait(h).result() for h in handles] == list(range(16))
    assert len(set(keys)) == 16


def test_batch_size_one_turns_batching_off_and_a_fixed_size_is_kept(runner):
    with runner:
        handles, keys = run_level(runner, unbatched, 30)
        assert [runner.wait(h).result() for h in handles] == list(range(30))
        assert len(set(keys)) == 30
        handles, keys = run_level(runner, in_sevens, 30)
        assert [runner.wait(h).result() for h in handles] == list(range(30))
    assert [keys.count(k) for k in dict.fromkeys(keys)] == [7, 7, 7, 7, 2]


def test_a_batched_child_is_running_while_it_runs_and_its_batch_mates_wait(runner, tmp_path):
    release = tmp_path / "release"
    with runner:
        handles, keys = run_level(runner, wait_for_file, 10, {"path": str(release)})
        assert len(set(keys)) == 1
        deadline = time.monotonic() + 20
        while runner.get_state(handles[0]).is_pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runner.get_state(handles[0]).is_running()
        assert runner.get_state(handles[1]).is_pending()
        release.touch()
        assert [runner.wait(h).result() for h in handles] == list(range(10))


def test_a_level_is_re_sized_from_warm_batches_when_its_probe_paid_one_off_costs(runner):
    """Sized from the 20 ms probe alone, 5,000 children would run ~10 per Dask task; a round
    of warm batches shows ~microseconds per child, so the rest goes in a few big batches."""
    with runner:
        handles, keys = run_level(runner, cold_start, 5000)
        states = [runner.wait(h) for h in handles]
    assert [s.result() for s in states] == list(range(5000))
    assert len(set(keys)) < 60, f"{len(set(keys))} Dask tasks for 5,000 children"


def test_a_probe_slow_enough_for_batches_of_one_is_still_checked_against_warm_children(runner):
    """A 0.2 s probe (one-off costs grown under load) alone would run 5,000 Dask tasks;
    a round of warm children, one per thread, shows microseconds: the rest goes in a few
    batches."""
    with runner:
        handles, keys = run_level(runner, very_cold_start, 5000)
        states = [runner.wait(h) for h in handles]
    assert [s.result() for s in states] == list(range(5000))
    assert len(set(keys)) < 60, f"{len(set(keys))} Dask tasks for 5,000 children"


def test_warm_up_time_is_left_out_of_the_durations_batches_are_sized_from(runner):
    """The first 400 children spend 5 ms each on work later ones skip (``taskrun.warm_up``):
    counted, the probe and its round would size batches of ~40 (over 100 Dask tasks; 16 to
    about 35 without, depending on the machine's load)."""
    with runner:
        handles, keys = run_level(runner, warming_up, 5000)
        states = [runner.wait(h) for h in handles]
    assert [s.result() for s in states] == list(range(5000))
    assert len(set(keys)) < 60, f"{len(set(keys))} Dask tasks for 5,000 children"
    assert states[0].duration is not None
    assert states[0].duration >= 0.005  # the state's own duration keeps it


def test_measured_durations_are_reused_so_a_second_run_skips_the_probe(runner):
    with Flow("twice") as flow:
        doubled = checked.map(x=numbers(50))
    first = flow.run(task_runner=runner)
    assert runner.estimates.get(_identity(checked)) is not None
    second = flow.run(task_runner=runner)
    assert first.result()[doubled].map_states[0].result() == 0
    assert [s.is_failed() for s in second.result()[doubled].map_states] == [
        i == 13 for i in range(50)
    ]


def _identity(task_: Task) -> tuple[str, ...]:
    from orchestrator.task_runners.dask.shipping import task_identity

    return task_identity(task_)


@task(max_retries=1, retry_delay=2)
def retried_after_a_delay() -> int:
    if context.task_run_count == 1:
        raise RuntimeError("first attempt fails")
    return context.task_run_count


@task
def quick() -> str:
    return "quick"


def test_a_retry_delay_shows_retrying_and_frees_the_worker_thread() -> None:
    """On a one-thread worker, a task submitted while another waits to retry runs first:
    the waiting retry gave its thread back (``distributed.secede``)."""
    from distributed import LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        DaskTaskRunner(address=cluster.scheduler_address) as runner,
    ):
        retried = runner.submit(
            TaskRunCall(task=retried_after_a_delay, name="retried_after_a_delay-0a0b0c0d-0")
        )
        deadline = time.monotonic() + 20
        while not runner.get_state(retried).is_retrying() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runner.get_state(retried).is_retrying()
        other = runner.submit(TaskRunCall(task=quick, name="quick-0a0b0c0d-0"))
        assert runner.wait(other).result() == "quick"
        assert runner.get_state(retried).is_retrying(), "the quick task did not wait for the retry"
        assert runner.wait(retried).result() == 2
