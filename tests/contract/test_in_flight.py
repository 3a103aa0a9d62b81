"""Bounded in-flight mapped branches on every runner: ``Flow(max_in_flight=k)`` and
``@task(max_in_flight=k)`` keep at most k branches (one item's load -> transform -> save)
alive, and every child stays a task run of its own.

Bodies record ``("load", i)`` when a load starts and ``("ended", i)`` when its branch ends
(a save ends, or a load fails), so "loads started minus branches ended" bounds the branches
alive from below: it must never pass the bound.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from shared_objects import Recorder, SharedEvent

from orchestrator import Flow, context, task, unmapped
from orchestrator.engine.state import Failed, Success, TriggerFailed
from orchestrator.task_runners import BaseTaskRunner, SequentialTaskRunner
from orchestrator.triggers import all_finished

from .dag_api import run

ITEMS = 12


@task
def load(i: int, record: Recorder) -> list[int]:
    record(("load", i))
    if i == 2:
        record(("ended", i))  # its branch ends here: transform and save will not run
        raise ValueError(f"item {i} is broken")
    return [i] * 4


@task
def transform(rows: list[int]) -> list[int]:
    return [row + 1 for row in rows]


@task
def save(rows: list[int], record: Recorder) -> int:
    record(("ended", rows[0] - 1))
    return sum(rows)


@task(trigger=all_finished)
def report(saved: list[Any]) -> int:
    return len(saved)


def _pipeline(bound: int | None, record: Recorder, **task_bounds: int) -> tuple[Flow, Any]:
    with Flow("pipeline", max_in_flight=bound) as flow:
        loaded = load.map(i=list(range(ITEMS)), record=unmapped(record))
        changed = transform.copy(**task_bounds).map(loaded)
        saved = save.map(changed, record=unmapped(record))
        report(saved)
    return flow, (loaded, changed, saved)


def _most_alive(events: list[object]) -> int:
    alive = most = 0
    for kind, _ in events:  # type: ignore[misc]
        alive += 1 if kind == "load" else -1 if kind == "ended" else 0
        most = max(most, alive)
    return most


def test_no_more_than_max_in_flight_branches_are_alive_at_once(task_runner, record):
    flow, (_, _, saved) = _pipeline(3, record)
    _, states = run(flow, task_runner)
    assert _most_alive(record.events) <= 3
    assert record.count(("load", ITEMS - 1)) == 1  # every branch ran, once
    assert [s.result() for s in states[saved].map_states if s.is_successful()] == [
        4 * (i + 1) for i in range(ITEMS) if i != 2
    ]


def test_without_a_bound_every_item_is_loaded_before_the_first_save(record):
    """The measure above can fail: the sequential runner without a bound goes breadth first."""
    flow, _ = _pipeline(None, record)
    run(flow, SequentialTaskRunner())
    assert _most_alive(record.events) == ITEMS - 1  # all but the broken one


def test_a_task_bound_bounds_the_branches_through_that_task(task_runner, record):
    flow, _ = _pipeline(None, record, max_in_flight=2)
    run(flow, task_runner)
    assert _most_alive(record.events) <= 2


def test_a_failed_branch_does_not_stop_the_others_and_the_reduce_gets_every_child(
    task_runner, record
):
    flow, (loaded, changed, saved) = _pipeline(4, record)
    _, states = run(flow, task_runner)
    broken = [states[t].map_states[2] for t in (loaded, changed, saved)]
    assert [type(s) for s in broken] == [Failed, TriggerFailed, TriggerFailed]
    for level in (loaded, changed, saved):
        children = states[level].map_states
        assert len(children) == ITEMS
        assert all(type(c) is Success for i, c in enumerate(children) if i != 2)
    reduce = next(t for t in flow.tasks if t.name == "report")
    assert states[reduce].result() == ITEMS


@task(max_retries=1, retry_delay=dt.timedelta(0))
def flaky(rows: list[int]) -> tuple[int | None, int]:
    if context.map_index == 1 and context.task_run_count < 2:
        raise RuntimeError("first attempt of child 1 fails")
    return context.map_index, context.task_run_count


def test_each_child_keeps_its_map_index_and_retries(task_runner, record):
    with Flow("pipeline", max_in_flight=2) as flow:
        loaded = load.map(i=[0, 1, 3, 4], record=unmapped(record))
        tried = flaky.map(loaded)
    _, states = run(flow, task_runner)
    children = states[tried].map_states
    assert [c.result() for c in children] == [(0, 1), (1, 2), (2, 1), (3, 1)]
    assert children[1].run_count == 2


@pytest.mark.integration
def test_deeper_levels_get_a_higher_dask_priority(inproc_address):
    """While the first save waits, the scheduler holds each level's Dask tasks with the
    level's depth as their priority."""
    from distributed import Client

    from orchestrator.task_runners import DaskTaskRunner

    release, record = SharedEvent(), Recorder()

    @task
    def held_save(rows: list[int], release: SharedEvent) -> int:
        release.wait(10)
        return sum(rows)

    with Flow("priorities", max_in_flight=4) as flow:
        loaded = load.map(i=[0, 1, 3, 4], record=unmapped(record))
        held_save.map(transform.map(loaded), release=unmapped(release))
    with Client(inproc_address) as client:
        runner: BaseTaskRunner[Any] = DaskTaskRunner(address=inproc_address)
        with runner:
            finished: list[Any] = []
            thread = _start(lambda: finished.append(flow.run(task_runner=runner)))
            priorities = _priorities_while_held(client, record)
            release.set()
            thread.join(30)
    assert finished
    assert finished[0].is_successful()
    assert priorities.get("held_save") == -2
    assert priorities.get("transform", -1) == -1  # may have finished already
    assert priorities.get("load", 0) == 0


def _start(function: Any) -> Any:
    import threading

    thread = threading.Thread(target=function, daemon=True)
    thread.start()
    return thread


def _priorities_while_held(client: Any, record: Recorder) -> dict[str, int]:
    """The user priority of each task's Dask tasks on the scheduler, once a save waits."""
    import time

    deadline = time.monotonic() + 20
    found: dict[str, int] = {}
    while time.monotonic() < deadline and "held_save" not in found:
        found = client.run_on_scheduler(_user_priorities)
        time.sleep(0.05)
    return found


def _user_priorities(dask_scheduler: Any) -> dict[str, int]:
    return {
        str(key).split("-")[0]: ts.priority[0]
        for key, ts in dask_scheduler.tasks.items()
        if ts.priority is not None and ts.state in ("waiting", "processing", "no-worker")
    }
