"""The pure scheduling core: parameters, upstream refs and the flow's final state, without runs."""

from __future__ import annotations

import pytest

from orchestrator import Parameter, Task
from orchestrator.core import Edge
from orchestrator.errors import ParameterError
from orchestrator.runs.scheduler import (
    ChildRefs,
    check_parameters,
    decide_flow_state,
    upstream_refs,
)
from taskrun.states import (
    Cancelled,
    Failed,
    Mapped,
    Paused,
    Pending,
    Skipped,
    Success,
    TriggerFailed,
)
from taskrun.wire import UpstreamRef


def tasks(*names):
    return [Task(name=n) for n in names]


# ---- check_parameters --------------------------------------------------------------------------
def test_check_parameters_fills_defaults_and_keeps_given_values():
    declared = [Parameter("a"), Parameter("b", default=2)]
    assert check_parameters("f", declared, {"a": 1}) == {"a": 1, "b": 2}
    assert check_parameters("f", declared, {"a": 1, "b": 3}) == {"a": 1, "b": 3}


def test_check_parameters_reports_missing_and_unknown_together():
    with pytest.raises(ParameterError) as info:
        check_parameters("f", [Parameter("a")], {"b": 1})
    assert (info.value.missing, info.value.unknown, info.value.known) == (["a"], ["b"], ["a"])


def test_an_optional_parameter_with_a_none_default_is_not_required():
    assert check_parameters("f", [Parameter("a", default=None, required=False)], {}) == {"a": None}


# ---- upstream_refs -----------------------------------------------------------------------------
def test_a_plain_edge_refers_to_its_upstream_handle():
    a, b = tasks("a", "b")
    edge = Edge(a, b, key="x")
    assert upstream_refs([edge], {a: "handle-a"}) == (UpstreamRef(edge, ("handle-a",)),)


def test_a_reducing_edge_refers_to_all_children_of_a_mapped_upstream():
    a, b = tasks("a", "b")
    edge = Edge(a, b, key="x")
    (ref,) = upstream_refs([edge], {a: ["c0", "c1"]})
    assert ref == UpstreamRef(edge, ("c0", "c1"), reduce=True)


def test_a_mapped_child_over_mapped_children_takes_the_child_with_its_index():
    a, b = tasks("a", "b")
    edge = Edge(a, b, key="x", mapped=True)
    (ref,) = upstream_refs([edge], {a: ["c0", "c1"]}, map_index=1)
    assert ref == UpstreamRef(edge, ("c1",))


def test_a_mapped_child_over_a_list_result_takes_its_element():
    a, b = tasks("a", "b")
    edge = Edge(a, b, key="x", mapped=True)
    (ref,) = upstream_refs([edge], {a: "list-handle"}, map_index=2)
    assert ref == UpstreamRef(edge, ("list-handle",), index=2)


def test_an_unmapped_edge_of_a_mapped_child_gives_the_whole_upstream():
    a, b = tasks("a", "b")
    edge = Edge(a, b, key="y")
    (ref,) = upstream_refs([edge], {a: "whole"}, map_index=3)
    assert ref == UpstreamRef(edge, ("whole",))


def test_a_flattened_edge_over_children_keeps_all_children_and_the_index():
    a, b = tasks("a", "b")
    edge = Edge(a, b, key="x", mapped=True, flattened=True)
    (ref,) = upstream_refs([edge], {a: ["c0", "c1"]}, map_index=2)
    assert ref == UpstreamRef(edge, ("c0", "c1"), reduce=True, index=2, flattened=True)


# ---- decide_flow_state -------------------------------------------------------------------------
def test_the_flow_succeeds_when_every_reference_task_succeeded():
    a, b = tasks("a", "b")
    states = {a: Success(), b: Skipped()}
    final = decide_flow_state(states, [a, b], states, terminal_tasks=[a, b])
    assert isinstance(final, Success)
    assert final.message == "All reference tasks succeeded."
    assert final.result() == states


def test_the_flow_fails_naming_each_failed_reference_task():
    a, b, c = tasks("a", "b", "c")
    states = {a: Failed(), b: TriggerFailed(), c: Success()}
    final = decide_flow_state(states, [a, b, c], states, terminal_tasks=[a, b, c])
    assert isinstance(final, Failed)
    assert final.message == "Some reference tasks failed: 'a', 'b'."


def test_a_failed_task_that_is_not_a_reference_task_does_not_fail_the_flow():
    a, b = tasks("a", "b")
    states = {a: Failed(), b: Success()}
    assert decide_flow_state(states, [b], states, terminal_tasks=[b]).is_successful()


def test_a_mapped_reference_task_fails_the_flow_when_a_child_failed():
    (a,) = tasks("a")
    states = {a: Mapped(map_states=[Success(), Failed()])}
    assert decide_flow_state(states, [a], states, terminal_tasks=[a]).is_failed()


def test_an_unfinished_terminal_task_leaves_the_flow_pending():
    a, b = tasks("a", "b")
    states = {a: Success(), b: Pending()}
    final = decide_flow_state(states, [b], states, terminal_tasks=[b])
    assert type(final) is Pending
    assert final.message == "Flow run incomplete: 'b' did not finish."


def test_a_paused_task_makes_the_flow_paused_and_says_how_to_resume():
    a, b = tasks("a", "b")
    states = {a: Paused(), b: Pending()}
    final = decide_flow_state(states, [b], states, terminal_tasks=[b])
    assert isinstance(final, Paused)
    assert "'a' paused" in final.message
    assert "task_states={**paused_flow_state.result(), task: Resume()}" in final.message


def test_a_failed_reference_task_fails_the_flow_even_while_another_task_is_paused():
    a, b = tasks("a", "b")
    states = {a: Failed(), b: Paused()}
    final = decide_flow_state(states, [a, b], states, terminal_tasks=[a, b])
    assert isinstance(final, Failed)
    assert final.message == "Some reference tasks failed: 'a'. Paused: 'b'."
    assert final.result(raise_on_failure=False) == states  # resumable as a paused run


@pytest.mark.parametrize(
    "cancelled_state", [Cancelled(), Mapped(map_states=[Success(), Cancelled()])]
)
def test_a_cancelled_reference_task_never_counts_as_success(cancelled_state):
    a, b = tasks("a", "b")
    states = {a: cancelled_state, b: Success()}
    final = decide_flow_state(states, [a, b], states, terminal_tasks=[a, b])
    assert isinstance(final, Cancelled)
    assert not final.is_successful()
    assert final.message == "Some reference tasks were cancelled: 'a'."


def test_a_flow_whose_only_task_was_cancelled_is_not_successful_in_process():
    from orchestrator import Flow, task
    from orchestrator.engine import signals

    @task
    def stopped():
        raise signals.ENDRUN(Cancelled("stopped on request"))

    with Flow("cancelled") as flow:
        stopped()
    state = flow.run()
    assert isinstance(state, Cancelled)
    assert state.message == "Some reference tasks were cancelled: 'stopped'."


def test_a_task_left_out_of_the_run_does_not_keep_it_open_once_terminal_tasks_finished():
    a, b = tasks("a", "b")  # a was upstream of the start task b and given no state
    states = {a: Pending(), b: Success()}
    assert decide_flow_state(states, [b], states, terminal_tasks=[b]).is_successful()


def test_without_terminal_tasks_every_task_must_finish():
    a, b = tasks("a", "b")
    states = {a: Pending(), b: Success()}
    assert type(decide_flow_state(states, [b], states)) is Pending


def test_the_result_holds_only_the_returned_states():
    a, b = tasks("a", "b")
    states = {a: Success(), b: Success()}
    assert decide_flow_state(states, [a, b], {b: states[b]}, terminal_tasks=[a, b]).result() == {
        b: states[b]
    }


def test_mapped_children_share_the_refs_of_unmapped_edges_and_the_source_tuples():
    a, b, c, t = Task(name="a"), Task(name="b"), Task(name="c"), Task(name="t")
    over_children = Edge(a, t, key="x", mapped=True)
    whole = Edge(b, t, key="y")
    flattened = Edge(c, t, key="z", mapped=True, flattened=True)
    handles = {a: ["a0", "a1"], b: "handle-b", c: ["c0", "c1"]}
    refs = ChildRefs([over_children, whole, flattened], handles)
    first, second = refs.refs(0), refs.refs(1)
    for i, made in enumerate((first, second)):
        assert made == upstream_refs([over_children, whole, flattened], handles, map_index=i)
    assert first[0] == UpstreamRef(over_children, ("a0",))
    assert second[0] == UpstreamRef(over_children, ("a1",))
    assert first[1] is second[1]
    assert first[1] == UpstreamRef(whole, ("handle-b",))
    assert first[2].sources is second[2].sources
    assert second[2] == UpstreamRef(flattened, ("c0", "c1"), reduce=True, index=1, flattened=True)
