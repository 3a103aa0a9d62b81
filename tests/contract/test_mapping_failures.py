"""Failures, skips and retries inside mapped levels, on every runner.

A failed or skipped child affects only the matching downstream child; a reducer over a
failed child is trigger-failed; mapping over something that is not a sequence fails the
parent with a message naming the task and argument; children retry on their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orchestrator import Constant, Flow, flatten, task
from orchestrator.engine import signals
from orchestrator.engine.state import Failed, Mapped, Skipped, Success, TriggerFailed
from orchestrator.task_runners import BaseTaskRunner

from .dag_api import add_one, divide, double, identity, run, skip_odd, total


# ---- values that cannot be mapped ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1, "its value 1 is not a sequence"),
        (None, "its value None is not a sequence"),
        ({"a": 1}, "its value {'a': 1} is not a sequence"),
    ],
    ids=["int", "None", "dict"],  # a str maps its characters (test_prefect1_mapping.py)
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


def test_mapping_over_a_non_sequence_fails_the_mapped_task_with_a_message(
    task_runner: BaseTaskRunner[Any],
) -> None:
    with Flow("not-a-list") as flow:
        children = add_one.map(x=add_one(1))
    state = flow.run(task_runner=task_runner)
    failed = state.result()[children]
    assert failed.is_failed()
    assert "cannot map over argument 'x'" in failed.message
    assert "not a sequence" in failed.message


def test_flatten_over_something_not_a_sequence_fails_the_parent(task_runner):
    with Flow("f") as flow:
        mapped = identity.map(x=flatten(Constant(2)))
    _, states = run(flow, task_runner)
    assert isinstance(states[mapped], Failed)
    assert "cannot map over argument 'x': its value 2 is not a sequence" in states[mapped].message


def test_mapping_over_a_failed_upstream_fails_the_parent_by_its_trigger(task_runner):
    @task
    def broken():
        raise ValueError("no list")

    with Flow("f") as flow:
        mapped = double.map(x=broken())
    _, states = run(flow, task_runner)
    assert isinstance(states[mapped], TriggerFailed)
    assert states[mapped].map_states == []


# ---- failed and skipped children ----------------------------------------------------------------
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


def test_a_skip_propagates_to_downstream_children(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("skips") as flow:
        kept = skip_odd.map(x=[1, 2, 3, 4])
        plus = add_one.map(x=kept)
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    children = state.result()[plus].map_states
    assert [type(s) for s in children] == [Skipped, Success, Skipped, Success]
    assert [s.result() for s in children if not s.is_skipped()] == [3, 5]


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


def test_a_reduce_over_a_failed_child_is_trigger_failed(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("reduce-failed") as flow:
        quotients = divide.map(x=[1, 3, 5])
        summed = total(quotients)
    state = flow.run(task_runner=task_runner)
    children = state.result()[quotients].map_states
    assert [type(s) for s in children] == [Success, Failed, Success]
    assert isinstance(state.result()[summed], TriggerFailed)
    assert state.is_failed()


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


def test_a_given_mapped_state_feeds_mapped_children_pairwise_and_reducers_whole(
    task_runner, record
):
    @task
    def produce(x):
        record("produce ran")
        return x

    @task
    def double(x):
        return 2 * x

    @task
    def collect(xs):
        return xs

    with Flow("f") as flow:
        a = produce.map(x=[0, 0, 0])
        doubled = double.map(x=a)
        collected = collect(a)
    given = Mapped(
        map_states=[Success(result=1), Failed(result=ValueError("x")), Success(result=3)]
    )
    _, states = run(flow, task_runner, task_states={a: given})
    assert record.events == []
    children = states[doubled].map_states
    assert [type(c) for c in children] == [Success, TriggerFailed, Success]
    assert (children[0].result(), children[2].result()) == (2, 6)
    assert isinstance(states[collected], TriggerFailed)
