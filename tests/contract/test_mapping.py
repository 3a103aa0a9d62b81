"""Mapping on every runner: one child per element, zipping, unmapped, reducing,
map-over-map, flatten, upstream-only maps and empty inputs.
"""

from __future__ import annotations

from typing import Any

import pytest

import orchestrator
from orchestrator import Flow, Parameter, flatten, task, unmapped
from orchestrator.engine.state import Mapped, Success
from orchestrator.task_runners import BaseTaskRunner

from .dag_api import add, add_one, double, identity, numbers, run, total


@task
def nested(n: int) -> list[list[int]]:
    return [list(range(i)) for i in range(n)]


# ---- children -----------------------------------------------------------------------------------
def test_a_mapped_task_spawns_one_child_per_element_in_order(task_runner):
    with Flow("f") as flow:
        doubled = double.map(x=[3, 1, 2])
    state, states = run(flow, task_runner)
    parent = states[doubled]
    assert isinstance(parent, Mapped)
    assert [type(c) for c in parent.map_states] == [Success, Success, Success]
    assert parent.result() == [6, 2, 4]
    assert parent.message == "Mapped 3 children."
    assert state.is_successful()


def test_mapping_zips_several_arguments_to_the_shortest(task_runner):
    with Flow("f") as flow:
        sums = add.map(x=[1, 2, 3], y=[10, 20])
    _, states = run(flow, task_runner)
    assert states[sums].result() == [11, 22]


def test_unmapped_arguments_go_whole_to_every_child(task_runner):
    @task
    def size(x, items):
        return x + len(items)

    with Flow("f") as flow:
        items = identity([7, 8, 9, 10])
        sizes = size.map(x=[0, 100], items=unmapped(items))
    _, states = run(flow, task_runner)
    assert states[sizes].result() == [4, 104]


def test_constant_arguments_of_a_mapped_task_go_whole_to_every_child(task_runner):
    with Flow("f") as flow:
        sums = add.map(x=[1, 2], y=unmapped(100))
    _, states = run(flow, task_runner)
    assert states[sums].result() == [101, 102]


def test_mapping_over_a_task_result_and_a_tuple(task_runner):
    @task
    def numbers():
        return (1, 2, 3)

    with Flow("f") as flow:
        doubled = double.map(numbers())
    _, states = run(flow, task_runner)
    assert states[doubled].result() == [2, 4, 6]


def test_mapping_over_a_parameter(task_runner):
    with Flow("f") as flow:
        doubled = double.map(x=Parameter("xs"))
    _, states = run(flow, task_runner, parameters={"xs": [5, 6]})
    assert states[doubled].result() == [10, 12]


def test_mapping_over_upstream_tasks_spawns_one_child_per_element_without_data(task_runner, record):
    @task
    def four():
        return ["a", "b", "c", "d"]

    @task
    def hello():
        record(orchestrator.context.map_index)
        return "hello"

    with Flow("f") as flow:
        greetings = hello.map(upstream_tasks=[four])
    _, states = run(flow, task_runner)
    assert states[greetings].result() == ["hello"] * 4
    assert sorted(record.events) == [0, 1, 2, 3]


def test_mapping_over_upstream_tasks_spawns_one_child_per_element(
    task_runner: BaseTaskRunner[Any],
) -> None:
    @task
    def constant() -> str:
        return "ran"

    with Flow("upstream-map") as flow:
        children = constant.map(upstream_tasks=[numbers(3)])
    state = flow.run(task_runner=task_runner)
    assert state.result()[children].result() == ["ran", "ran", "ran"]


@pytest.mark.parametrize(
    ("values", "expected"), [([], []), ([5], [6]), (list(range(30)), list(range(1, 31)))]
)
def test_mapping_over_empty_single_and_many_elements(
    task_runner: BaseTaskRunner[Any], values: list[int], expected: list[int]
) -> None:
    with Flow("sizes") as flow:
        children = add_one.map(x=values)
        summed = total(children)
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    assert state.result()[children].result() == expected
    assert state.result()[summed].result() == sum(expected)


def test_mapping_over_an_empty_list_gives_no_children_and_a_successful_parent(task_runner, record):
    @task
    def nothing():
        return []

    @task
    def body(x):
        record("ran")

    with Flow("f") as flow:
        mapped = body.map(x=nothing())
        again = body.map(x=mapped)
        summed = total(mapped)
    state, states = run(flow, task_runner)
    assert isinstance(states[mapped], Mapped)
    assert states[mapped].map_states == []
    assert states[again].map_states == []
    assert states[summed].result() == 0
    assert record.events == []
    assert state.is_successful()


def test_each_mapped_child_body_runs_exactly_once(task_runner, record):
    @task
    def body(x):
        record(x)
        return x

    with Flow("f") as flow:
        mapped = body.map(x=list(range(20)))
        total(mapped)
        identity.map(mapped)
    run(flow, task_runner)
    assert sorted(record.events) == list(range(20))


def test_the_imperative_api_maps_with_set_dependencies(task_runner):
    flow = Flow("f")
    flow.set_dependencies(add, keyword_tasks={"x": [1, 2], "y": unmapped(10)}, mapped=True)
    _, states = run(flow, task_runner)
    assert states[add].result() == [11, 12]


# ---- reduce and map over map --------------------------------------------------------------------
def test_map_reduce_gives_every_child_and_the_sum(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("map-reduce") as flow:
        children = add_one.map(x=numbers(4))
        summed = total(children)
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    assert isinstance(state.result()[children], Mapped)
    assert state.result()[children].result() == [2, 3, 4, 5]
    assert state.result()[summed].result() == 14


def test_a_reducer_receives_the_childrens_results_in_order(task_runner):
    with Flow("f") as flow:
        summed = total(double.map(x=[1, 2, 3, 4]))
        listed = identity(double.map(x=[4, 3]))
    _, states = run(flow, task_runner)
    assert states[summed].result() == 20
    assert states[listed].result() == [8, 6]


def test_map_over_map_pairs_the_nth_child_with_the_nth_child(task_runner):
    with Flow("f") as flow:
        a = double.map(x=[1, 2, 3])
        b = add.map(x=a, y=[100, 200, 300])
        c = identity.map(x=b)
    _, states = run(flow, task_runner)
    assert states[b].result() == [102, 204, 306]
    assert states[c].result() == [102, 204, 306]


def test_map_over_map_pairs_children_and_unmapped_is_shared(
    task_runner: BaseTaskRunner[Any],
) -> None:
    @task
    def combine(x: int, y: int, z: int) -> int:
        return x * 100 + y * 10 + z

    with Flow("map-over-map") as flow:
        first = add_one.map(x=numbers(3))
        second = combine.map(x=first, y=numbers(3), z=unmapped(7))
    state = flow.run(task_runner=task_runner)
    assert state.result()[second].result() == [217, 327, 437]


# ---- flatten ------------------------------------------------------------------------------------
def test_flatten_maps_over_the_concatenation_of_a_list_of_lists(task_runner):
    with Flow("f") as flow:
        doubled = double.map(x=flatten([[1], [2, 3]]))
    _, states = run(flow, task_runner)
    assert len(states[doubled].map_states) == 3
    assert states[doubled].result() == [2, 4, 6]


def test_flatten_over_a_task_result_and_over_mapped_children(task_runner):
    @task
    def nested():
        return [[1, 2], [], [3]]

    @task
    def upto(n):
        return list(range(n))

    with Flow("f") as flow:
        from_result = identity.map(x=flatten(nested()))
        from_children = identity.map(x=flatten(upto.map(n=[1, 2, 3])))
    _, states = run(flow, task_runner)
    assert states[from_result].result() == [1, 2, 3]
    assert states[from_children].result() == [0, 0, 1, 0, 1, 2]


def test_flatten_maps_over_the_concatenation_of_lists(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("flatten") as flow:
        lists = nested(4)
        flat = add_one.map(x=flatten(lists))
        per_child = numbers.map(n=[2, 3])
        flat_children = add_one.map(x=flatten(per_child))
    state = flow.run(task_runner=task_runner)
    assert state.result()[flat].result() == [1, 1, 2, 1, 2, 3]
    assert state.result()[flat_children].result() == [2, 3, 2, 3, 4]
