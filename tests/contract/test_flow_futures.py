"""``@flow`` futures on every runner: calls, dependencies, ``wait_for``, mapping and the
future API (``get_state``, ``wait``, ``result``, ``exception``).

A failed upstream leaves its downstream ``NotReady`` and unrun; futures stay
inspectable after the flow run; flows and tasks may be called inside each other.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from orchestrator import context, flow, task, unmapped
from orchestrator.runs.futures import Future
from orchestrator.runs.mapping import MappingError
from taskrun.states import Pending, State

from .flow_api import add, fail, identity, total


class Pair(NamedTuple):
    left: int
    right: int


# ---- dependencies -------------------------------------------------------------------------------
def test_futures_as_arguments_pass_their_results(task_runner):
    @flow(task_runner=task_runner)
    def chained():
        one = add(1)
        return add(one, add(one, 1))

    assert chained().result() == 3


def test_futures_nested_in_lists_dicts_and_tuples_pass_their_results(task_runner):
    @flow(task_runner=task_runner)
    def nested():
        a, b = add(1), add(2)
        return identity({"list": [a, 5, (b, a)], "set": {b}, "pair": Pair(a, b), "plain": "x"})

    assert nested().result() == {
        "list": [1, 5, (2, 1)],
        "set": {2},
        "pair": Pair(1, 2),
        "plain": "x",
    }


def test_states_as_arguments_pass_their_results(task_runner):
    @flow(task_runner=task_runner)
    def from_state():
        return add(add(4).wait(), 1)

    assert from_state().result() == 5


def test_wait_for_a_failed_upstream_leaves_the_downstream_not_ready_and_unrun(task_runner, record):
    @task
    def recorded(name):
        record(name)

    @flow(task_runner=task_runner)
    def guarded():
        table = fail("no table")
        recorded("a", wait_for=[table])
        recorded("b", wait_for=table)

    state = guarded()
    first, *downstream = state.result(raise_on_failure=False)
    assert first.is_failed()
    assert [(type(s), s.name) for s in downstream] == [(Pending, "NotReady")] * 2
    assert "fail-" in downstream[0].message
    assert state.message == "1/3 states failed."
    assert record.events == []


def test_downstream_of_a_not_ready_run_is_not_ready_too(task_runner):
    @flow(task_runner=task_runner)
    def chain():
        return add(add(fail()), 1)

    state = chain()
    assert state.name == "NotReady"


def test_data_dependency_on_a_failed_future_is_not_ready(task_runner):
    @flow(task_runner=task_runner)
    def data_chain():
        add(fail(), 1)

    assert [s.name for s in data_chain().result(raise_on_failure=False)] == ["Failed", "NotReady"]


def test_upstream_tasks_and_task_args_work_in_a_flow_as_in_the_dag_api(task_runner, record):
    @task
    def recorded(name):
        record(name)
        return name

    @flow(task_runner=task_runner)
    def spelled():
        failed = fail()
        recorded("never", upstream_tasks=[failed])
        return recorded("renamed", task_args={"name": "other"})

    state = spelled()
    assert state.result() == "renamed"
    assert record.events == ["renamed"]


def test_wait_for_rejects_values_that_are_not_futures(task_runner):
    @flow(task_runner=task_runner)
    def bad_wait():
        add(1, wait_for=[3])

    state = bad_wait()
    with pytest.raises(TypeError, match="Task 'add': wait_for takes futures"):
        state.result()


def test_missing_task_argument_fails_at_the_call_naming_the_task(task_runner):
    @flow(task_runner=task_runner)
    def no_args():
        total()

    with pytest.raises(TypeError, match=r"Task 'total': missing required arguments \['xs'\]"):
        no_args().result()


def test_a_future_of_an_earlier_flow_run_is_an_input_of_a_later_one(task_runner):
    kept: list[Future[int]] = []

    @flow(task_runner=task_runner)
    def first():
        kept.append(add(20))

    @flow(task_runner=task_runner)
    def second():
        return add(kept[0], 1)

    first()
    assert second().result() == 21


# ---- mapping ------------------------------------------------------------------------------------
def test_map_with_unmapped_returns_a_list_of_futures(task_runner):
    @flow(task_runner=task_runner)
    def mapped():
        children = add.map([1, 2, 3], y=unmapped(10))
        assert all(isinstance(c, Future) for c in children)
        return total(children)

    assert mapped().result() == 36


def test_map_over_a_future_spawns_one_child_per_element(task_runner):
    @flow(task_runner=task_runner)
    def over_future():
        numbers = identity([1, 2, 3])
        children = add.map(numbers, y=unmapped(identity(100)))
        return [c.result() for c in children]

    assert over_future().result() == [101, 102, 103]


def test_map_over_two_arguments_zips_them_to_the_shorter(task_runner):
    @flow(task_runner=task_runner)
    def zipped():
        return [f.result() for f in add.map([1, 2, 3], [10, 20])]

    assert zipped().result() == [11, 22]


def test_map_over_an_empty_list_spawns_nothing(task_runner):
    @flow(task_runner=task_runner)
    def empty():
        return add.map([])

    state = empty()
    assert state.is_successful()
    assert state.result() == []


def test_map_over_a_failed_future_gives_one_not_ready_child(task_runner):
    @flow(task_runner=task_runner)
    def over_failed():
        return add.map(fail())

    state = over_failed()
    assert state.message == "1/1 states did not run: an upstream task run did not complete."
    assert [s.name for s in state.result(raise_on_failure=False)] == ["NotReady"]


def test_map_over_a_future_that_is_not_a_sequence_fails_the_child_with_a_message(task_runner):
    @flow(task_runner=task_runner)
    def over_int():
        return add.map(identity(5))

    (child,) = over_int().result(raise_on_failure=False)
    assert child.is_failed()
    assert "Task 'add': cannot map over argument 'x'" in child.message


def test_map_over_a_constant_that_is_not_a_sequence_raises_at_the_call(task_runner):
    @flow(task_runner=task_runner)
    def bad_map():
        add.map(5)

    with pytest.raises(MappingError, match="Task 'add': cannot map over argument 'x'"):
        bad_map().result()


# ---- futures ------------------------------------------------------------------------------------
def test_future_exception_returns_the_error_of_a_failed_run(task_runner):
    @flow(task_runner=task_runner)
    def erring():
        return repr(fail("x").exception())

    assert erring().result() == "ValueError('x')"


def test_task_run_names_count_calls_per_task_within_a_flow_run(task_runner):
    @flow(task_runner=task_runner)
    def named():
        return [f.name for f in (add(1), total([1]), add(2), *add.map([1, 2]))]

    names = named().result()
    token = names[0].split("-")[1]
    assert names == [
        f"add-{token}-0",
        names[1],
        f"add-{token}-1",
        f"add-{token}-2",
        f"add-{token}-3",
    ]
    assert names[1].startswith("total-")
    assert names[1].endswith("-0")


def test_futures_stay_inspectable_after_the_flow_run_ends(task_runner):
    kept: list[Future[int]] = []

    @flow(task_runner=task_runner)
    def keeper():
        kept.extend([add(1), fail()])

    keeper()
    assert [f.get_state().name for f in kept] == ["Completed", "Failed"]
    assert kept[0].result() == 1


def test_submit_runs_in_the_background_and_returns_the_flow_run(task_runner, release):

    @task
    def gate():
        assert release.wait(10)
        return 7

    @flow(task_runner=task_runner)
    def background():
        return add(gate(), 1)

    run = background.submit()
    assert run.wait(timeout=0.01) is None
    assert run.get_state().is_running() or run.get_state().is_pending()
    release.set()
    state = run.wait(timeout=10)
    assert isinstance(state, State)
    assert state.result() == 8
    assert run.result() == 8
    assert [f.name.split("-")[0] for f in run.futures] == ["gate", "add"]


# ---- flows --------------------------------------------------------------------------------------
def test_tasks_and_the_body_see_the_flow_run_context(task_runner):
    @task
    def read_context():
        return context.flow_name, context.flow_run_name, context.parameters, context.task_run_name

    @flow(name="Context Flow", task_runner=task_runner)
    def with_context(n):
        assert context.flow_name == "Context Flow"
        return read_context()

    flow_name, run_name, parameters, task_run_name = with_context(3).result()
    assert (flow_name, parameters) == ("Context Flow", {"n": 3})
    assert run_name.count("-") == 1
    assert task_run_name.startswith("read_context-")


def test_a_task_called_inside_a_task_body_runs_directly(task_runner):
    @task
    def outer_task(x):
        return add(x, 1) * 10  # a plain call here, on every runner

    @flow(task_runner=task_runner)
    def calls_inside():
        return outer_task(1)

    assert calls_inside().result() == 20


def test_a_flow_called_inside_a_flow_runs_as_its_own_flow_run(task_runner):
    @flow(task_runner=task_runner)
    def inner(x):
        return add(x, 1)

    @flow(task_runner=task_runner)
    def outer():
        inner_state = inner(1)
        return add(inner_state, 10)

    assert outer().result() == 12
