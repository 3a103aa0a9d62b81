"""One contract, every runner: flow-level behaviour on the sequential runner and on Dask.

Each test runs the same flow on ``SequentialTaskRunner`` and on ``DaskTaskRunner``
connected to an in-process ``LocalCluster`` (session fixture), and checks the same
outcome: map-reduce, failures and triggers, skips, retries, mapping edge cases,
reduces over failed children, context keys, parameters, pausing and resuming, and the
task-runner contract itself (submit, wait, get_state, shape, given).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orchestrator import Flow, Parameter, context, flatten, task, unmapped
from orchestrator.core import Edge
from orchestrator.engine import signals
from orchestrator.engine.state import (
    Failed,
    Mapped,
    Paused,
    Resume,
    Skipped,
    Success,
    TriggerFailed,
)
from orchestrator.task_runners import DaskTaskRunner, SequentialTaskRunner
from orchestrator.triggers import all_finished, always_run, manual_only
from taskrun.wire import ResultShape, TaskRunCall, UpstreamRef

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(params=["sequential", "dask"])
def runner(request: pytest.FixtureRequest) -> Any:
    if request.param == "sequential":
        return SequentialTaskRunner()
    return DaskTaskRunner(address=request.getfixturevalue("inproc_address"))


# ---- tasks (module level: they travel to workers by reference) --------------------------------
@task
def numbers(n: int = 4) -> list[int]:
    return list(range(1, n + 1))


@task
def add_one(x: int) -> int:
    return x + 1


@task(name="sum")
def total(values: list[int]) -> int:
    return sum(values)


@task
def divide(x: int) -> float:
    return 1 / (x - 3)


@task
def boom(x: Any = None) -> None:
    raise ValueError("boom")


@task
def skip_odd(x: int) -> int:
    if x % 2:
        raise signals.SKIP(f"{x} is odd")
    return x


@task(trigger=all_finished)
def count_states(values: list[Any]) -> int:
    return len(values)


@task(max_retries=2, retry_delay=dt.timedelta(seconds=0))
def flaky(x: int) -> tuple[int, int]:
    if context.task_run_count < 2:
        raise RuntimeError("first attempt fails")
    return x, context.task_run_count


@task
def describe_context(x: int) -> dict[str, Any]:
    keys = (
        "flow_name",
        "task_name",
        "map_index",
        "today",
        "yesterday",
        "parameters",
        "task_full_name",
        "flow_run_name",
        "task_run_name",
    )
    return {key: context.get(key) for key in keys} | {"x": x}


@task
def nested(n: int) -> list[list[int]]:
    return [list(range(i)) for i in range(n)]


@task(trigger=manual_only)
def approve(x: int) -> int:
    return x * 10


@task(trigger=always_run)
def cleanup() -> str:
    return "cleaned"


# ---- flows --------------------------------------------------------------------------------------
def test_map_reduce_gives_every_child_and_the_sum(runner: Any) -> None:
    with Flow("map-reduce") as flow:
        children = add_one.map(x=numbers(4))
        summed = total(children)
    state = flow.run(task_runner=runner)
    assert state.is_successful()
    assert isinstance(state.result()[children], Mapped)
    assert state.result()[children].result() == [2, 3, 4, 5]
    assert state.result()[summed].result() == 14


def test_a_failure_fails_downstream_with_trigger_failed_and_the_flow(runner: Any) -> None:
    with Flow("failing") as flow:
        bad = boom()
        after = add_one(bad)
        last = add_one(after)
    state = flow.run(task_runner=runner)
    assert state.is_failed()
    results = state.result()
    assert isinstance(results[bad], Failed)
    with pytest.raises(ValueError, match="boom"):
        results[bad].result()
    assert isinstance(results[after], TriggerFailed)
    assert isinstance(results[last], TriggerFailed)


def test_always_run_and_all_finished_tasks_run_after_a_failure(runner: Any) -> None:
    with Flow("cleanup") as flow:
        bad = boom()
        tidy = cleanup(upstream_tasks=[bad])
        counted = count_states(divide.map(x=[1, 2, 3, 4]))
    state = flow.run(task_runner=runner)
    results = state.result()
    assert results[tidy].result() == "cleaned"
    assert results[counted].result() == 4


def test_a_skip_propagates_to_downstream_children(runner: Any) -> None:
    with Flow("skips") as flow:
        kept = skip_odd.map(x=[1, 2, 3, 4])
        plus = add_one.map(x=kept)
    state = flow.run(task_runner=runner)
    assert state.is_successful()
    children = state.result()[plus].map_states
    assert [type(s) for s in children] == [Skipped, Success, Skipped, Success]
    assert [s.result() for s in children if not s.is_skipped()] == [3, 5]


def test_retries_run_the_task_again_in_the_same_flow_run(runner: Any) -> None:
    with Flow("retries") as flow:
        result = flaky.map(x=[7, 8])
    state = flow.run(task_runner=runner)
    assert state.is_successful()
    assert state.result()[result].result() == [(7, 2), (8, 2)]


def test_a_reduce_over_a_failed_child_is_trigger_failed(runner: Any) -> None:
    with Flow("reduce-failed") as flow:
        quotients = divide.map(x=[1, 3, 5])
        summed = total(quotients)
    state = flow.run(task_runner=runner)
    children = state.result()[quotients].map_states
    assert [type(s) for s in children] == [Success, Failed, Success]
    assert isinstance(state.result()[summed], TriggerFailed)
    assert state.is_failed()


@pytest.mark.parametrize(
    ("values", "expected"), [([], []), ([5], [6]), (list(range(30)), list(range(1, 31)))]
)
def test_mapping_over_empty_single_and_many_elements(
    runner: Any, values: list[int], expected: list[int]
) -> None:
    with Flow("sizes") as flow:
        children = add_one.map(x=values)
        summed = total(children)
    state = flow.run(task_runner=runner)
    assert state.is_successful()
    assert state.result()[children].result() == expected
    assert state.result()[summed].result() == sum(expected)


def test_mapping_over_a_non_sequence_fails_the_mapped_task_with_a_message(runner: Any) -> None:
    with Flow("not-a-list") as flow:
        children = add_one.map(x=add_one(1))
    state = flow.run(task_runner=runner)
    failed = state.result()[children]
    assert failed.is_failed()
    assert "cannot map over argument 'x'" in failed.message
    assert "not a sequence" in failed.message


def test_map_over_map_pairs_children_and_unmapped_is_shared(runner: Any) -> None:
    @task
    def combine(x: int, y: int, z: int) -> int:
        return x * 100 + y * 10 + z

    with Flow("map-over-map") as flow:
        first = add_one.map(x=numbers(3))
        second = combine.map(x=first, y=numbers(3), z=unmapped(7))
    state = flow.run(task_runner=runner)
    assert state.result()[second].result() == [217, 327, 437]


def test_flatten_maps_over_the_concatenation_of_lists(runner: Any) -> None:
    with Flow("flatten") as flow:
        lists = nested(4)
        flat = add_one.map(x=flatten(lists))
        per_child = numbers.map(n=[2, 3])
        flat_children = add_one.map(x=flatten(per_child))
    state = flow.run(task_runner=runner)
    assert state.result()[flat].result() == [1, 1, 2, 1, 2, 3]
    assert state.result()[flat_children].result() == [2, 3, 2, 3, 4]


def test_mapping_over_upstream_tasks_spawns_one_child_per_element(runner: Any) -> None:
    @task
    def constant() -> str:
        return "ran"

    with Flow("upstream-map") as flow:
        children = constant.map(upstream_tasks=[numbers(3)])
    state = flow.run(task_runner=runner)
    assert state.result()[children].result() == ["ran", "ran", "ran"]


def test_context_keys_reach_the_task_run(runner: Any) -> None:
    with Flow("context-flow") as flow:
        limit = Parameter("limit", default=2)
        seen = describe_context.map(x=numbers(limit))
    state = flow.run(parameters={"limit": 2}, task_runner=runner, context={"today": "2020-03-02"})
    first, second = state.result()[seen].result()
    assert first["flow_name"] == "context-flow"
    assert first["task_name"] == "describe_context"
    assert (first["map_index"], second["map_index"]) == (0, 1)
    assert first["task_full_name"] == "describe_context[0]"
    assert (first["today"], first["yesterday"]) == ("2020-03-02", "2020-03-01")
    assert first["parameters"] == {"limit": 2}
    assert first["flow_run_name"] == second["flow_run_name"]
    assert first["task_run_name"].startswith("describe_context-")
    assert first["task_run_name"].endswith("-0")
    assert second["task_run_name"].endswith("-1")


def test_parameters_flow_into_tasks_and_defaults_apply(runner: Any) -> None:
    with Flow("parameters") as flow:
        count = Parameter("count", default=3)
        summed = total(add_one.map(x=numbers(count)))
    assert flow.run(task_runner=runner).result()[summed].result() == 9
    assert flow.run(parameters={"count": 5}, task_runner=runner).result()[summed].result() == 20


def test_a_paused_task_resumes_with_the_earlier_results(runner: Any) -> None:
    with Flow("approval") as flow:
        value = add_one(1)
        approved = approve(value)
        final = add_one(approved)
    paused = flow.run(task_runner=runner)
    assert isinstance(paused, Paused)
    assert isinstance(paused.result()[approved], Paused)
    resumed = flow.run(
        task_runner=runner,
        task_states={**paused.result(), approved: Resume()},
        start_tasks=[approved],
    )
    assert resumed.is_successful()
    assert resumed.result()[final].result() == 21


# ---- the task-runner contract -----------------------------------------------------------------
def test_the_runner_contract_submit_wait_get_state_shape_given(runner: Any) -> None:
    edge = Edge(numbers, total, key="values")
    with runner:
        produced = runner.submit(TaskRunCall(task=numbers, name="numbers-0"))
        summed = runner.submit(
            TaskRunCall(task=total, name="total-0", upstream=(UpstreamRef(edge, (produced,)),))
        )
        assert runner.wait(summed).result() == 10
        assert runner.get_state(summed).result() == 10
        assert runner.shape(produced) == ResultShape(True, 4)
        given = runner.given(Failed("known"))
        assert runner.wait(given).message == "known"
        assert runner.shape(given) == ResultShape(False)
        children = runner.submit_many(
            [
                TaskRunCall(
                    task=add_one,
                    name=f"add_one-0-{i}",
                    map_index=i,
                    upstream=(
                        UpstreamRef(
                            Edge(numbers, add_one, key="x", mapped=True), (produced,), index=i
                        ),
                    ),
                )
                for i in range(4)
            ]
        )
        assert [runner.wait(h).result() for h in children] == [2, 3, 4, 5]
