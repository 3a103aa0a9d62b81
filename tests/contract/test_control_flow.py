"""Control flow on every runner: ``case`` (nested, over parameters and constants), ``merge``,
``switch``, ``ifelse``, resource managers and ``apply_map``.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import Flow, Parameter, apply_map, case, resource_manager, task, unmapped
from orchestrator.engine import signals
from orchestrator.engine.state import Mapped, Skipped, Success, TriggerFailed
from orchestrator.tasks.control_flow import FilterTask, ifelse, merge, switch

from .dag_api import add, double, fails, identity, run

pytestmark = pytest.mark.timeout(120)


@task
def is_even(x: int) -> bool:
    return x % 2 == 0


@task
def negate(x: int) -> int:
    return -x


@task
def inc(x: int) -> int:
    return x + 1


# ---- case ---------------------------------------------------------------------------------------
def test_case_runs_its_tasks_when_the_result_equals_the_value(task_runner):
    with Flow("f") as flow:
        with case(identity("a"), "a"):
            inside = double(4)
        after = inc(inside)
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert states[inside].result() == 8
    assert states[after].result() == 9


def test_case_skips_its_tasks_and_their_downstream_when_the_result_differs(task_runner):
    with Flow("f") as flow:
        with case(identity("b"), "a"):
            inside = double(4)
            chained = inc(inside)
        after = inc(chained)
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert [type(states[t]) for t in (inside, chained, after)] == [Skipped, Skipped, Skipped]


@pytest.mark.parametrize(("mode", "ran"), [("loud", True), ("quiet", False)])
def test_case_over_a_parameter_follows_the_parameter_value(task_runner, mode, ran):
    with Flow("f") as flow, case(Parameter("mode"), "loud"):
        inside = double(1)
    _, states = run(flow, task_runner, parameters={"mode": mode})
    assert states[inside].is_skipped() is not ran
    assert states[inside].result() == (2 if ran else None)


def test_case_over_a_constant_works(task_runner):
    with Flow("f") as flow:
        with case(3, 3):
            taken = double(1)
        with case(3, 4):
            not_taken = double(2)
    _, states = run(flow, task_runner)
    assert states[taken].result() == 2
    assert states[not_taken].is_skipped()


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [(True, True, "ran"), (True, False, "skipped"), (False, True, "skipped")],
)
def test_nested_cases_run_the_inner_block_only_when_both_match(task_runner, outer, inner, expected):
    with Flow("f") as flow, case(identity(outer), True):
        outer_task = double(1)
        with case(identity(inner), True):
            inner_task = double(2)
    _, states = run(flow, task_runner)
    assert states[outer_task].is_skipped() is not outer
    assert ("skipped" if states[inner_task].is_skipped() else "ran") == expected


def test_merge_returns_the_result_of_the_branch_that_ran(task_runner):
    with Flow("f") as flow:
        condition = is_even(3)
        with case(condition, True):
            even = inc(3)
        with case(condition, False):
            odd = negate(3)
        merged = merge(even, odd)
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert states[even].is_skipped()
    assert states[merged].result() == -3


def test_merge_is_skipped_when_every_branch_skipped(task_runner):
    with Flow("f") as flow:
        with case(identity(0), 1):
            one = inc(1)
        with case(identity(0), 2):
            two = inc(2)
        merged = merge(one, two)
    _, states = run(flow, task_runner)
    assert isinstance(states[merged], Skipped)


def test_merge_fails_by_trigger_when_a_branch_failed(task_runner):
    with Flow("f") as flow:
        with case(identity(0), 1):
            skipped = inc(1)
        broken = fails()
        merged = merge(skipped, broken)
    state, states = run(flow, task_runner)
    assert isinstance(states[merged], TriggerFailed)
    assert state.is_failed()


# ---- switch and ifelse --------------------------------------------------------------------------
def test_switch_runs_only_the_matching_task(task_runner):
    with Flow("f") as flow:
        a, b, c = identity("a"), identity("b"), identity("c")
        switch(identity("b"), {"a": a, "b": b, "c": c})
        after_a = identity(a)  # downstream of a skipped branch skips too
    _, states = run(flow, task_runner)
    assert [states[t].is_skipped() for t in (a, b, c)] == [True, False, True]
    assert states[b].result() == "b"
    assert states[after_a].is_skipped()


def test_a_mapped_switch_chooses_per_child(task_runner):
    with Flow("f") as flow:
        letters = identity.map(["a", "b", "a"])
        on_a, on_b = double.map([1, 2, 3]), negate.map([1, 2, 3])
        switch(letters, {"a": on_a, "b": on_b}, mapped=True)
        picked = merge(on_a, on_b, mapped=True)
    _, states = run(flow, task_runner)
    assert [c.is_skipped() for c in states[on_a].map_states] == [False, True, False]
    assert states[picked].result() == [2, -2, 6]


@pytest.mark.parametrize(("value", "chosen"), [([1], "yes"), ([], "no"), (0, "no"), ("x", "yes")])
def test_ifelse_branches_on_the_truthiness_of_the_result(task_runner, value, chosen):
    with Flow("f") as flow:
        yes, no = identity("yes"), identity("no")
        ifelse(identity(value), yes, no)
        picked = merge(yes, no)
    _, states = run(flow, task_runner)
    assert states[picked].result() == chosen
    assert states[no if chosen == "yes" else yes].is_skipped()


def test_filter_task_keeps_the_results_of_the_children_that_succeeded(task_runner):
    @task
    def invert(x: int) -> float:
        if x == 2:
            raise signals.SKIP("two is skipped")
        return 1 / x

    with Flow("f") as flow:
        inverted = invert.map([1, 0, 2, 4])
        kept = FilterTask(name="kept")(inverted)
    state, states = run(flow, task_runner)
    assert [type(c).__name__ for c in states[inverted].map_states] == [
        "Success",
        "Failed",
        "Skipped",
        "Success",
    ]
    assert states[kept].result() == [1.0, 0.25]
    assert state.is_successful()  # the filter is the only reference task, and it succeeded


# ---- resource managers --------------------------------------------------------------------------
@resource_manager
class Journal:
    """A resource whose every step writes to ``record``; setup fails when asked to."""

    def __init__(self, record: Any, name: str, broken: bool = False) -> None:
        self.record, self.name, self.broken = record, name, broken

    def setup(self) -> str:
        if self.broken:
            raise RuntimeError(f"{self.name} cannot start")
        self.record(("setup", self.name))
        return f"handle:{self.name}"

    def cleanup(self, handle: str) -> None:
        self.record(("cleanup", handle))


@task
def use(handle: str, record: Any) -> str:
    record(("use", handle))
    return handle.upper()


@task
def use_and_fail(handle: str, record: Any) -> None:
    record(("fail", handle))
    raise ValueError("the work failed")


def test_resource_is_set_up_before_and_cleaned_up_after_its_block(task_runner, record):
    with Flow("f") as flow, Journal(record, "db") as handle:
        first = use(handle, record)
        second = use(handle, record)
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert states[first].result() == "HANDLE:DB" == states[second].result()
    events = record.events
    assert events[0] == ("setup", "db")
    assert events[-1] == ("cleanup", "handle:db")
    assert events.count(("use", "handle:db")) == 2


def test_cleanup_runs_after_a_failed_task_and_the_flow_fails_by_that_task(task_runner, record):
    with Flow("f") as flow, Journal(record, "db") as handle:
        broken = use_and_fail(handle, record)
    state, states = run(flow, task_runner)
    assert state.is_failed()
    assert repr(broken.name) in state.message
    assert record.events[-1] == ("cleanup", "handle:db")
    cleanups = [t for t in flow.tasks if t.name == "Journal.cleanup"]
    assert [type(states[t]) for t in cleanups] == [Success]


def test_cleanup_is_skipped_when_setup_failed(task_runner, record):
    with Flow("f") as flow, Journal(record, "db", broken=True) as handle:
        used = use(handle, record)
    state, states = run(flow, task_runner)
    (cleanup,) = (t for t in flow.tasks if t.name == "Journal.cleanup")
    assert states[cleanup].is_skipped()
    assert states[used].is_failed()
    assert state.is_failed()
    assert record.events == []


def test_a_failing_cleanup_does_not_decide_the_flow_state(task_runner, record):
    @resource_manager
    class Leaky:
        def setup(self) -> int:
            return 1

        def cleanup(self, resource: int) -> None:
            raise RuntimeError("cleanup broke")

    with Flow("f") as flow, Leaky() as resource:
        done = inc(resource)
    state, states = run(flow, task_runner)
    (cleanup,) = (t for t in flow.tasks if t.name == "Leaky.cleanup")
    assert states[cleanup].is_failed()
    assert states[done].result() == 2
    assert state.is_successful()


# ---- apply_map ----------------------------------------------------------------------------------
def _inc_or_negate(x: Any) -> Any:
    even = is_even(x)
    with case(even, True):
        bigger = inc(x)
    with case(even, False):
        negated = negate(x)
    return merge(bigger, negated)


def test_apply_map_runs_a_case_per_element(task_runner):
    with Flow("f") as flow:
        result = apply_map(_inc_or_negate, range(5))
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert isinstance(states[result], Mapped)
    assert states[result].result() == [1, -1, 3, -3, 5]


def test_apply_map_over_a_task_result_with_an_unmapped_argument_and_a_constant(task_runner):
    def scale(x: Any, offset: Any) -> Any:
        return double(add(add(x, offset), 1))

    with Flow("f") as flow:
        xs = identity([1, 2, 3])
        result = apply_map(scale, xs, unmapped(identity(10)))
    _, states = run(flow, task_runner)
    assert states[result].result() == [24, 26, 28]


def test_apply_map_zips_several_mapped_arguments(task_runner):
    with Flow("f") as flow:
        result = apply_map(lambda x, y: add(x, y), [1, 2], y=[10, 20])
    _, states = run(flow, task_runner)
    assert states[result].result() == [11, 22]
