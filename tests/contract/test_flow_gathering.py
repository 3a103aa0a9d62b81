"""Gathering on every runner: a list of futures passed to a task
(``total([add(i) for i in ...])``) is one upstream edge. The run receives the list of
results, triggers see every future's state, and messages name the very runs that
failed. A task with a trigger of its own still sees one upstream state per future.
"""

from __future__ import annotations

from typing import Any

from orchestrator import flow, task
from orchestrator.triggers import all_finished, always_run
from taskrun.triggers import TriggerResult


@task
def add(x: int, y: int = 0) -> int:
    return x + y


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def fail() -> int:
    raise ValueError("boom")


def test_a_list_of_futures_reaches_the_run_as_the_list_of_their_results(task_runner):
    @flow(task_runner=task_runner)
    def gathered() -> Any:
        return total([add(i) for i in range(50)]), total([add(1), 5, add(2)])

    first, mixed = gathered().result()
    assert first.result() == sum(range(50))
    assert mixed.result() == 8  # constants between futures keep their place


def test_a_failed_future_in_the_list_leaves_the_run_not_ready_naming_that_run(task_runner):
    @flow(task_runner=task_runner)
    def gathered() -> Any:
        futures = [add(1), fail(), add(2)]
        return futures[1].name, total(futures)

    state = gathered()
    failed_name, downstream = state.result(raise_on_failure=False)
    downstream_state = downstream.wait()
    assert downstream_state.name == "NotReady"
    assert downstream_state.message == (
        f"Some upstream tasks did not succeed: {failed_name!r}. This task run did not run."
    )


def test_a_builtin_trigger_sees_every_gathered_run(task_runner):
    @task(trigger=all_finished)
    def count_failures(values: list[Any]) -> int:
        return sum(isinstance(v, BaseException) for v in values)

    @flow(task_runner=task_runner)
    def gathered() -> Any:
        return count_failures([add(1), fail(), fail()])

    assert gathered().result() == 2


def test_a_trigger_of_its_own_sees_one_upstream_state_per_future(task_runner):
    def saw_three_upstreams(upstream_states: Any) -> TriggerResult:
        assert len(upstream_states) == 3, list(upstream_states)
        assert all(not s.is_mapped() for s in upstream_states.values())
        return always_run(upstream_states)

    @task(trigger=saw_three_upstreams)
    def collect(values: list[int]) -> int:
        return sum(values)

    @flow(task_runner=task_runner)
    def gathered() -> Any:
        return collect([add(1), add(2), add(3)])

    assert gathered().result() == 6
