"""Bounded mapped branches in ``@flow`` functions, on every runner: ``@flow(max_in_flight=k)``
and ``@task(max_in_flight=k)`` hold a chain of maps back and run it branch by branch.

Bodies record ``("load", i)`` when a load starts and ``("ended", i)`` when its branch ends
(a save ends, or a load fails): "loads started minus branches ended" must never pass the
bound.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from shared_objects import Recorder, SharedEvent

from orchestrator import flow, task, unmapped
from orchestrator.engine.state import Cancelled, Failed
from orchestrator.runs.function_branches import ReleasedBranchError
from orchestrator.task_runners import BaseTaskRunner, SequentialTaskRunner
from orchestrator.triggers import all_finished

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
def count(values: list[Any]) -> int:
    return len(values)


def _most_alive(events: list[object]) -> int:
    alive = most = 0
    for kind, _ in events:  # type: ignore[misc]
        alive += 1 if kind == "load" else -1 if kind == "ended" else 0
        most = max(most, alive)
    return most


def _pipeline(runner: BaseTaskRunner[Any], bound: int | None, record: Recorder) -> Any:
    @flow(name="pipeline", task_runner=runner, max_in_flight=bound, journal=False)
    def pipeline() -> list[Any]:
        loaded = load.map(range(ITEMS), record=unmapped(record))
        saved = save.map(transform.map(loaded), record=unmapped(record))
        return saved

    return pipeline


def test_no_more_than_max_in_flight_branches_are_alive_at_once(task_runner, record):
    state = _pipeline(task_runner, 3, record)()
    assert _most_alive(record.events) <= 3
    assert sorted(i for kind, i in record.events if kind == "load") == list(range(ITEMS))
    saved = state.result()
    values = [s.result() if s.is_successful() else None for s in saved]
    assert values == [None if i == 2 else 4 * (i + 1) for i in range(ITEMS)]
    assert state.is_failed()  # the broken item's branch: its save did not run


def test_without_a_bound_every_item_is_loaded_before_the_first_save(record):
    _pipeline(SequentialTaskRunner(), None, record)()
    assert _most_alive(record.events) == ITEMS - 1  # the broken one ended early
    with_bound = Recorder()
    _pipeline(SequentialTaskRunner(), 2, with_bound)()
    assert _most_alive(with_bound.events) <= 2


def test_a_task_bound_starts_a_held_chain_and_a_reducer_after_it_reads_every_level(
    task_runner, record
):
    bounded = load.copy(max_in_flight=2)

    @flow(task_runner=task_runner, journal=False)
    def pipeline() -> tuple[Any, Any]:
        loaded = bounded.map(range(ITEMS), record=unmapped(record))
        saved = save.map(transform.map(loaded), record=unmapped(record))
        return count(loaded), count(saved)  # the first level stays whole for its reader

    state = pipeline()
    read_loaded, read_saved = state.result()
    assert read_loaded.result() == ITEMS
    assert read_saved.result() == ITEMS
    assert _most_alive(record.events) <= 2


def test_a_call_that_reads_a_released_level_later_is_refused_with_the_reason(task_runner, record):
    @flow(task_runner=task_runner, max_in_flight=2, journal=False)
    def pipeline() -> Any:
        loaded = load.map(range(ITEMS), record=unmapped(record))
        saved = save.map(transform.map(loaded), record=unmapped(record))
        saved[-1].wait()  # the branches ran: their loads were released on the way
        return count(loaded)

    state = pipeline()
    assert isinstance(state, Failed)
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ReleasedBranchError)
    assert "'load'" in str(error)
    assert "max_in_flight" in str(error)


def test_held_runs_show_pending_until_submitted_and_every_run_is_journalled(
    task_runner, tmp_path, monkeypatch
):
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path))
    seen: list[str] = []

    @flow(task_runner=task_runner, max_in_flight=2)
    def pipeline() -> Any:
        record = Recorder()
        loaded = load.map(range(4, 4 + ITEMS), record=unmapped(record))
        saved = save.map(transform.map(loaded), record=unmapped(record))
        seen.append(saved[-1].get_state().message or "")  # nothing submitted yet
        return saved

    state = pipeline()
    assert "max_in_flight=2" in seen[0]
    assert state.is_successful()
    from orchestrator.journal import SQLiteJournal

    journal = SQLiteJournal(tmp_path / "runs.db")
    try:
        run = journal.latest_runs(limit=1)[0]
        assert run.counts == {"Success": 3 * ITEMS}
    finally:
        journal.close()


@pytest.mark.timeout(60)
def test_cancelling_a_bounded_run_cancels_the_held_branches(task_runner):
    gate = SharedEvent()

    @task
    def slow(i: int, gate: SharedEvent) -> int:
        gate.wait(10)
        return i

    @flow(task_runner=task_runner, max_in_flight=2, journal=False)
    def pipeline() -> Any:
        return transform.map(slow.map(range(ITEMS), gate=[gate] * ITEMS))

    run = pipeline.submit()
    deadline = time.monotonic() + 20
    while not run.futures and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.cancel("the test cancels it")
    gate.set()
    final = run.wait(30)
    assert isinstance(final, Cancelled)
    states = [future.wait(10) for future in run.futures]
    assert all(s is not None for s in states)
    assert any(isinstance(s, Cancelled) for s in states)
