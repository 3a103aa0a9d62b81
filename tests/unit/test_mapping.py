"""Mapping: one child per element, zipping, reducing, map-over-map, flatten and bad inputs."""

from __future__ import annotations

import datetime as dt

import pytest

import orchestrator
from orchestrator import Constant, Flow, Parameter, flatten, task, unmapped
from orchestrator.engine import signals
from orchestrator.engine.state import Failed, Mapped, Skipped, Success, TriggerFailed


@task
def add(x, y):
    return x + y


@task
def double(x):
    return 2 * x


@task
def total(xs):
    return sum(xs)


@task
def identity(x):
    return x


def run(flow, task_runner, **kwargs):
    state = flow.run(task_runner=task_runner, **kwargs)
    return state, state.result()


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


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1, "its value 1 is not a sequence"),
        (None, "its value None is not a sequence"),
        ("abc", "its value 'abc' is not a sequence"),
        ({"a": 1}, "its value {'a': 1} is not a sequence"),
    ],
    ids=["int", "None", "str", "dict"],
)
def test_mapping_over_a_non_sequence_result_fails_the_parent_naming_the_task_and_argument(
    task_runner, record, value, shown
):
    @task
    def produce():
        return value

    @task
    def body(x):
        record("child ran")

    with Flow("f") as flow:
        mapped = body.map(x=produce())
    state, states = run(flow, task_runner)
    parent = states[mapped]
    assert isinstance(parent, Failed)
    assert parent.message == (
        f"Task 'body': cannot map over argument 'x': {shown}. Map over a "
        "list or tuple, or wrap the argument in unmapped(...) if every child "
        "should receive it whole."
    )
    assert isinstance(parent.result(raise_on_failure=False), ValueError)
    assert record.events == []
    assert state.is_failed()


@pytest.mark.parametrize("value", [Constant(1), None, 1], ids=["Constant(1)", "None", "1"])
def test_mapping_over_a_constant_that_is_not_a_sequence_fails_the_parent(task_runner, value):
    with Flow("f") as flow:
        mapped = double.map(x=value)
    state, states = run(flow, task_runner)
    assert isinstance(states[mapped], Failed)
    assert states[mapped].message.startswith(
        "Task 'double': cannot map over argument 'x': its value "
    )
    assert state.is_failed()


def test_mapping_over_a_failed_upstream_fails_the_parent_by_its_trigger(task_runner):
    @task
    def broken():
        raise ValueError("no list")

    with Flow("f") as flow:
        mapped = double.map(x=broken())
    _, states = run(flow, task_runner)
    assert isinstance(states[mapped], TriggerFailed)
    assert states[mapped].map_states == []


def test_a_failed_child_fails_only_the_matching_downstream_child(task_runner, record):
    @task
    def first(x):
        if x == 2:
            raise ValueError("two is bad")
        return x

    @task
    def second(x):
        record(x)
        return x * 10

    with Flow("f") as flow:
        a = first.map(x=[1, 2, 3])
        b = second.map(x=a)
    state, states = run(flow, task_runner)
    assert [type(c) for c in states[a].map_states] == [Success, Failed, Success]
    children = states[b].map_states
    assert [type(c) for c in children] == [Success, TriggerFailed, Success]
    assert "Task 'second[1]'" in children[1].message
    assert (children[0].result(), children[2].result()) == (10, 30)
    assert sorted(record.events) == [1, 3]
    assert state.is_failed()


def test_a_skipped_child_skips_only_the_matching_downstream_child(task_runner):
    @task
    def first(x):
        if x == 2:
            raise signals.SKIP("skip two")
        return x

    with Flow("f") as flow:
        a = first.map(x=[1, 2, 3])
        b = double.map(x=a)
    state, states = run(flow, task_runner)
    assert [type(c) for c in states[b].map_states] == [Success, Skipped, Success]
    assert states[b].map_states[1].message == "Upstream task was skipped; skipping this task."
    assert state.is_successful()


def test_a_reducer_over_a_failed_child_is_trigger_failed(task_runner, record):
    @task
    def first(x):
        if x == 2:
            raise ValueError("two is bad")
        return x

    @task
    def reducer(xs):
        record("reduced")

    with Flow("f") as flow:
        reduced = reducer(first.map(x=[1, 2, 3]))
    _, states = run(flow, task_runner)
    assert isinstance(states[reduced], TriggerFailed)
    assert record.events == []


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


def test_flatten_over_something_not_a_list_of_lists_fails_the_parent_naming_the_item(task_runner):
    with Flow("f") as flow:
        mapped = identity.map(x=flatten(Constant([[1], 2])))
    _, states = run(flow, task_runner)
    assert isinstance(states[mapped], Failed)
    assert "flatten needs a list of lists, item 1 is 2" in states[mapped].message


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


def test_children_retry_on_their_own(task_runner, record):
    @task(max_retries=2, retry_delay=dt.timedelta(0))
    def flaky(x):
        record(x)
        if x == 1 and record.count(1) < 3:
            raise ConnectionError("flaky child")
        return x

    with Flow("f") as flow:
        mapped = flaky.map(x=[0, 1, 2])
    _, states = run(flow, task_runner)
    assert states[mapped].result() == [0, 1, 2]
    assert (record.count(0), record.count(1), record.count(2)) == (1, 3, 1)


def test_map_index_is_none_outside_mapping_and_the_index_in_children(task_runner):
    @task
    def where(x=None):
        return orchestrator.context.map_index, orchestrator.context.task_full_name

    with Flow("f") as flow:
        single = where()
        mapped = where.map(x=["a", "b", "c"])
    _, states = run(flow, task_runner)
    assert states[single].result() == (None, "where")
    assert states[mapped].result() == [(0, "where[0]"), (1, "where[1]"), (2, "where[2]")]


def test_a_mapped_parent_with_a_failed_child_fails_the_flow_when_it_is_a_reference_task(
    task_runner,
):
    @task
    def invert(x):
        return 1 / x

    with Flow("f") as flow:
        invert.map(x=[1, 0])
    state = flow.run(task_runner=task_runner)
    assert state.is_failed()
    assert state.message == "Some reference tasks failed: 'invert'."


def test_the_imperative_api_maps_with_set_dependencies(task_runner):
    flow = Flow("f")
    flow.set_dependencies(add, keyword_tasks={"x": [1, 2], "y": unmapped(10)}, mapped=True)
    _, states = run(flow, task_runner)
    assert states[add].result() == [11, 12]
