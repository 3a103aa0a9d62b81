"""Built-in triggers called as Prefect 1 users call them: True, or a raised signal; any
collection of states; and the executor still deciding from them without exceptions."""

from __future__ import annotations

import pickle

import pytest

from orchestrator import context, task
from orchestrator.core import Edge, Task
from orchestrator.engine import signals
from orchestrator.engine.state import (
    Failed,
    Mapped,
    Paused,
    Pending,
    Skipped,
    Success,
    TriggerFailed,
)
from orchestrator.triggers import (
    all_failed,
    all_finished,
    all_successful,
    always_run,
    any_failed,
    any_successful,
    manual_only,
    not_all_skipped,
    some_failed,
    some_successful,
)
from taskrun.execute import run_task


def edges(*states):
    """``{Edge(u_i, downstream): state_i}``, upstream tasks named u0, u1, ..."""
    downstream = Task(name="downstream")
    return {Edge(Task(name=f"u{i}"), downstream): state for i, state in enumerate(states)}


# ---- True or a signal ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("trigger", "states"),
    [
        (all_successful, [Success(), Skipped(), Mapped()]),
        (all_failed, [Failed(), TriggerFailed()]),
        (any_successful, [Failed(), Success()]),
        (any_failed, [Success(), Failed()]),
        (all_finished, [Success(), Failed()]),
        (always_run, [Skipped()]),
        (not_all_skipped, [Skipped(), Success()]),
        (some_successful(at_least=1, at_most=2), [Success(), Failed()]),
        (some_failed(at_most=0.5), [Success(), Failed()]),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_passing_builtin_trigger_returns_true(trigger, states):
    assert trigger(states) is True
    assert trigger(edges(*states)) is True
    assert trigger(set(states)) is True


@pytest.mark.parametrize(
    ("trigger", "states", "signal_class", "says"),
    [
        (all_successful, [Success(), Failed()], signals.TRIGGERFAIL, "did not succeed: 'u1'"),
        (all_failed, [Failed(), Success()], signals.TRIGGERFAIL, "did not fail: 'u1'"),
        (any_successful, [Failed(), Failed()], signals.TRIGGERFAIL, "None of the 2 upstream"),
        (any_failed, [Success()], signals.TRIGGERFAIL, "None of the 1 upstream tasks failed"),
        (all_finished, [Success(), Pending()], signals.TRIGGERFAIL, "unfinished: 'u1'"),
        (not_all_skipped, [Skipped(), Skipped()], signals.SKIP, "All upstream tasks were skipped"),
        (not_all_skipped, [Skipped(), Failed()], signals.TRIGGERFAIL, "did not succeed: 'u1'"),
        (manual_only, [Success()], signals.PAUSE, "resume the task to run it"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_builtin_trigger_that_does_not_pass_raises_the_signal_that_says_why(
    trigger, states, signal_class, says
):
    with pytest.raises(signal_class, match=says) as raised:
        trigger(edges(*states))
    assert type(raised.value) is signal_class
    assert raised.value.state.result(raise_on_failure=False) is raised.value


def test_a_trigger_failure_names_the_trigger_and_for_plain_states_their_classes():
    with pytest.raises(
        signals.TRIGGERFAIL, match=r"Trigger 'all_successful': .* succeed: Failed\."
    ):
        all_successful([Success(), Failed()])


def test_triggers_accept_lists_inside_a_mapping_and_nested_lists_as_mapped_upstreams():
    assert all_successful({"mapped": [Success(), Success()], "plain": Success()}) is True
    with pytest.raises(signals.TRIGGERFAIL):
        all_successful([[Success(), Failed()], Success()])


def test_a_mapped_state_counts_as_its_children():
    parent = Mapped(map_states=[Success(), Failed(), Success()])
    assert any_failed([parent]) is True
    with pytest.raises(signals.TRIGGERFAIL):
        all_successful([parent])


def test_a_trigger_given_something_that_is_no_state_says_what_to_pass():
    with pytest.raises(TypeError, match=r"pass a dict \{edge: state\}, or a list or set"):
        all_successful([Success(), "done"])


# ---- the bounded triggers check their counts when called -----------------------------------------
def test_some_successful_raises_with_the_counts_when_outside_its_bounds():
    trigger = some_successful(at_least=2, at_most=3)
    assert trigger([Success(), Success(), Failed()]) is True
    with pytest.raises(signals.TRIGGERFAIL, match=r"1 of 3 upstream: fewer than at_least=2"):
        trigger([Success(), Failed(), Failed()])
    with pytest.raises(signals.TRIGGERFAIL, match=r"4 of 4 upstream: more than at_most=3"):
        trigger([Success()] * 4)


def test_some_failed_counts_fractions_of_the_upstream_states():
    assert some_failed(at_least=0.5)([Failed(), Success()]) is True
    with pytest.raises(signals.TRIGGERFAIL, match=r"0 of 2 upstream: fewer than at_least=0.5"):
        some_failed(at_least=0.5)([Success(), Success()])


# ---- manual_only and context.resume --------------------------------------------------------------
def test_manual_only_passes_when_the_run_is_resumed():
    with pytest.raises(signals.PAUSE):
        manual_only([])
    with context(resume=True):
        assert manual_only([]) is True


# ---- shipping ------------------------------------------------------------------------------------
def test_builtin_triggers_pickle_by_reference_and_bounded_ones_by_their_bounds():
    assert pickle.loads(pickle.dumps(all_successful)) is all_successful
    restored = pickle.loads(pickle.dumps(some_failed(at_least=1, at_most=0.5)))
    assert restored.__name__ == "some_failed(at_least=1, at_most=0.5)"
    assert restored([Failed(), Success()]) is True


# ---- in the executor -----------------------------------------------------------------------------
@task
def body(x=None):
    return "ran"


def upstream_failed():
    return {Edge(Task(name="extract"), body, key="x"): Failed("broke", ValueError("x"))}


def test_a_trigger_failure_state_holds_a_triggerfail_naming_the_task():
    state = run_task(body, upstream_failed())
    assert type(state) is TriggerFailed
    error = state.result(raise_on_failure=False)
    assert isinstance(error, signals.TRIGGERFAIL)
    assert "Task 'body': trigger did not pass. Some upstream tasks did not succeed: 'extract'." in (
        str(error)
    )
    assert state.message == str(error)


def test_a_skip_decided_by_not_all_skipped_holds_the_skip_signal():
    @task(trigger=not_all_skipped, skip_on_upstream_skip=False)
    def after_skips():
        return "ran"

    upstream = {Edge(Task(name=name), after_skips): Skipped() for name in ("a", "b")}
    state = run_task(after_skips, upstream)
    assert type(state) is Skipped
    assert isinstance(state.result(), signals.SKIP)
    assert state.message == "All upstream tasks were skipped."


def test_manual_only_pauses_with_the_pause_signal_and_the_inputs_kept():
    @task(trigger=manual_only)
    def gate(x):
        return x

    state = run_task(gate, {Edge(Task(name="up"), gate, key="x"): Success(result=5)})
    assert type(state) is Paused
    assert isinstance(state.result(), signals.PAUSE)
    assert dict(state.cached_inputs or {}) == {"x": 5}


def test_a_custom_trigger_raising_triggerfail_keeps_it_as_the_cause():
    raised = signals.TRIGGERFAIL("stale data")

    def stale(upstream_states):
        raise raised

    @task(trigger=stale)
    def guarded():
        return "ran"

    state = run_task(guarded, {Edge(Task(name="up"), guarded): Success()})
    error = state.result(raise_on_failure=False)
    assert type(state) is TriggerFailed
    assert "stale data" in state.message
    assert error.__cause__ is raised


def test_a_custom_trigger_calling_a_builtin_one_gets_its_signal_through():
    def strict(upstream_states):
        return all_successful(upstream_states) and len(upstream_states) > 0

    @task(trigger=strict)
    def guarded():
        return "ran"

    assert run_task(guarded, {Edge(Task(name="up"), guarded): Success()}).result() == "ran"
    failed = run_task(guarded, {Edge(Task(name="up"), guarded): Failed()})
    assert type(failed) is TriggerFailed
    assert "did not succeed: 'up'" in failed.message


def test_a_custom_trigger_raising_a_bare_skip_gives_a_skipped_state_saying_which_trigger():
    def nothing_new(upstream_states):
        raise signals.SKIP()

    @task(trigger=nothing_new)
    def guarded():
        return "ran"

    state = run_task(guarded, {Edge(Task(name="up"), guarded): Success()})
    assert type(state) is Skipped
    assert state.message == "Trigger 'nothing_new' skipped the task."
    assert isinstance(state.result(), signals.SKIP)
