"""Nested upstream results in task-run calls: templates filled where the run executes."""

from __future__ import annotations

from typing import NamedTuple

from orchestrator import task
from orchestrator.runs.task_calls import FutureEdge
from taskrun.states import Completed, Failed, TriggerFailed
from taskrun.wire import TaskRunCall, UpstreamRef, UpstreamResult, execute_call, fill_template


class Pair(NamedTuple):
    left: object
    right: object


@task
def identity(value):
    return value


def test_fill_template_replaces_placeholders_at_any_depth_keeping_container_types():
    template = {
        "a": [UpstreamResult(0), 1, (UpstreamResult(1),)],
        "b": {UpstreamResult(1)},
        "c": Pair(UpstreamResult(0), "x"),
        "d": frozenset({UpstreamResult(0)}),
    }
    assert fill_template(template, ["first", "second"]) == {
        "a": ["first", 1, ("second",)],
        "b": {"second"},
        "c": Pair("first", "x"),
        "d": frozenset({"first"}),
    }


def test_fill_template_leaves_values_without_placeholders_alone():
    value = object()
    assert fill_template(value, []) is value


def test_execute_call_fills_templates_from_upstream_results():
    refs = (UpstreamRef(FutureEdge("up-0"), ("h0",)), UpstreamRef(FutureEdge("up-1"), ("h1",)))
    call = TaskRunCall(
        task=identity,
        name="identity-0",
        upstream=refs,
        templates={"value": [UpstreamResult(1), UpstreamResult(0)]},
    )
    state = execute_call(call, [[Completed(None, 1)], [Completed(None, 2)]])
    assert state.result() == [2, 1]


def test_execute_call_with_a_failed_templated_upstream_does_not_run():
    refs = (UpstreamRef(FutureEdge("up-0"), ("h0",)),)
    call = TaskRunCall(
        task=identity, name="identity-0", upstream=refs, templates={"value": [UpstreamResult(0)]}
    )
    state = execute_call(call, [[Failed("x", ValueError("x"))]])
    assert isinstance(state, TriggerFailed)
    assert "'up-0'" in state.message


def test_future_edges_of_one_upstream_stay_distinct():
    assert len({FutureEdge("add-0"), FutureEdge("add-0")}) == 2
