"""Prefect 1 details of mapping and of tasks built by operators, on every task runner.

A string maps its characters; ``flatten`` counts a scalar item (or a string item) as a list
of one, for mapped and for reducing consumers; plain values in ``upstream_tasks`` become
``Constant`` tasks; operator tasks, unpacked results (``nout``) and ``DateTimeParameter``
values run like any task.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orchestrator import Constant, Flow, Parameter, flatten, task, unmapped
from orchestrator.core.parameter import DateTimeParameter

from .dag_api import add, identity, numbers, run, total

pytestmark = pytest.mark.timeout(60)


@task
def shout(letter: str, suffix: str) -> str:
    return letter.upper() + suffix


@task
def split_pair(x: int) -> tuple[int, int]:
    return x, x * 10


@task
def nested() -> list[Any]:
    return [[1, 2], 3, "ab", []]


def test_mapping_over_a_string_maps_its_characters(task_runner):
    with Flow("letters") as flow:
        upper = shout.map(letter="abc", suffix=unmapped("!"))
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert states[upper].result() == ["A!", "B!", "C!"]


def test_mapping_over_a_string_result_maps_its_characters(task_runner):
    with Flow("letters") as flow:
        upper = shout.map(letter=identity("xy"), suffix=unmapped(""))
    _, states = run(flow, task_runner)
    assert states[upper].result() == ["X", "Y"]


def test_flatten_counts_scalar_and_string_items_as_lists_of_one(task_runner):
    with Flow("flat") as flow:
        mapped = identity.map(x=flatten(nested()))
        constant = identity.map(x=flatten([[1], 2, "cd"]))
    _, states = run(flow, task_runner)
    assert states[mapped].result() == [1, 2, 3, "ab"]
    assert states[constant].result() == [1, 2, "cd"]


def test_flatten_of_a_reduce_input_gives_the_concatenation(task_runner):
    with Flow("flat-reduce") as flow:
        children = numbers.map(n=[1, 2, 3])  # [[1], [1, 2], [1, 2, 3]]
        reduced = total(flatten(children))
        whole = identity(flatten(nested()))
    _, states = run(flow, task_runner)
    assert states[reduced].result() == 1 + 3 + 6
    assert states[whole].result() == [1, 2, 3, "ab"]


def test_plain_values_in_upstream_tasks_become_constants_that_run_first(task_runner):
    with Flow("constant-upstream") as flow:
        result = identity(1, upstream_tasks=[3, [4, 5]])
    state, states = run(flow, task_runner)
    upstream = flow.upstream_tasks(result)
    assert any(isinstance(t, Constant) and t.value == 3 for t in upstream)
    assert all(states[t].is_successful() for t in upstream)
    assert state.is_successful()


def test_mapping_over_plain_upstream_tasks_spawns_one_child_per_element(task_runner):
    with Flow("mapped-upstream") as flow:
        children = identity.map(x=unmapped(7), upstream_tasks=[[1, 2, 3]])
    _, states = run(flow, task_runner)
    assert states[children].result() == [7, 7, 7]


def test_operator_tasks_compute_from_their_operands_results(task_runner):
    with Flow("operators") as flow:
        a, b = identity(6), identity(4)
        results = {
            "sum": a + b, "rsub": 20 - a, "mul": a * 2, "div": a / b, "floordiv": a // b,
            "mod": a % b, "pow": a**2, "rpow": 2**b, "lt": a < b, "le": a <= 6, "gt": a > b,
            "ge": b >= 5, "and": (a > b) & (b > 1), "or": (a < b).or_(b), "not": a.not_(),
            "eq": a.is_equal(6), "ne": a.is_not_equal(b), "item": identity([1, 2])[1],
        }  # fmt: skip
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert {name: states[t].result() for name, t in results.items()} == {
        "sum": 10, "rsub": 14, "mul": 12, "div": 1.5, "floordiv": 1, "mod": 2, "pow": 36,
        "rpow": 16, "lt": False, "le": True, "gt": True, "ge": False, "and": True, "or": 4,
        "not": False, "eq": True, "ne": True, "item": 2,
    }  # fmt: skip


def test_an_unpacked_result_gives_one_task_per_item(task_runner):
    with Flow("unpack") as flow:
        low, high = split_pair(3)
        both = add(low, high)
    _, states = run(flow, task_runner)
    assert (states[low].result(), states[high].result(), states[both].result()) == (3, 30, 33)


def test_datetime_parameters_parse_iso_strings_and_optional_ones_default_to_none(task_runner):
    with Flow("dates") as flow:
        since = identity(DateTimeParameter("since"))
        until = identity(DateTimeParameter("until", default=None))
        label = identity(Parameter("label", default=None))
    _, states = run(flow, task_runner, parameters={"since": "2024-05-01T08:30:00"})
    assert states[since].result() == dt.datetime(2024, 5, 1, 8, 30)
    assert states[until].result() is None
    assert states[label].result() is None
