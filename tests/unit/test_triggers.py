"""Triggers: pure decisions from upstream states (no flow, no runner)."""

from __future__ import annotations

import pickle

import pytest

from orchestrator import triggers
from orchestrator.core import Edge, Task
from orchestrator.engine.state import (
    Failed,
    Mapped,
    Pending,
    Running,
    Skipped,
    Success,
    TriggerFailed,
)
from orchestrator.triggers import Decision, TriggerResult

RUN, FAIL, SKIP, PAUSE = Decision.RUN, Decision.FAIL, Decision.SKIP, Decision.PAUSE

SIMPLE_TRIGGERS = {
    "all_successful": triggers.all_successful,
    "all_failed": triggers.all_failed,
    "any_successful": triggers.any_successful,
    "any_failed": triggers.any_failed,
    "all_finished": triggers.all_finished,
    "always_run": triggers.always_run,
    "manual_only": triggers.manual_only,
    "not_all_skipped": triggers.not_all_skipped,
}


def upstream(*states):
    """``{Edge(upstream_i, downstream): state_i}`` with upstream tasks named u0, u1, ..."""
    downstream = Task(name="downstream")
    return {Edge(Task(name=f"u{i}"), downstream): state for i, state in enumerate(states)}


# ---- every trigger on an empty upstream set ------------------------------------------------------
EMPTY_UPSTREAM_DECISIONS = {
    "all_successful": RUN,
    "all_failed": RUN,
    "any_successful": RUN,
    "any_failed": RUN,
    "all_finished": RUN,
    "always_run": RUN,
    "manual_only": PAUSE,
    "not_all_skipped": RUN,
}


def test_every_public_trigger_has_a_documented_empty_upstream_answer():
    public = {name for name in triggers.__all__ if name not in ("Decision", "TriggerResult")}
    assert public == set(EMPTY_UPSTREAM_DECISIONS) | {"some_failed", "some_successful"}


@pytest.mark.parametrize("name", sorted(SIMPLE_TRIGGERS))
def test_trigger_answer_for_an_empty_upstream_set(name):
    verdict = SIMPLE_TRIGGERS[name].verdict({})
    assert isinstance(verdict, TriggerResult)
    assert verdict.decision is EMPTY_UPSTREAM_DECISIONS[name]


@pytest.mark.parametrize(
    ("trigger", "decision"),
    [
        (triggers.some_failed(), RUN),
        (triggers.some_failed(at_least=1), FAIL),
        (triggers.some_failed(at_least=0.5), RUN),
        (triggers.some_successful(at_most=0), RUN),
        (triggers.some_successful(at_least=2), FAIL),
        (triggers.some_successful(at_least=1.0), RUN),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_some_triggers_on_an_empty_upstream_set_compare_zero_with_their_bounds(trigger, decision):
    assert trigger.verdict({}).decision is decision


# ---- the simple triggers -------------------------------------------------------------------------
def test_all_successful_runs_when_every_upstream_succeeded():
    assert triggers.all_successful.verdict(upstream(Success(), Skipped(), Mapped())).decision is RUN


def test_all_successful_fails_when_one_upstream_failed_and_names_it():
    verdict = triggers.all_successful.verdict(upstream(Success(), Failed()))
    assert verdict.decision is FAIL
    assert "'u1'" in verdict.reason
    assert "'u0'" not in verdict.reason


def test_all_failed_runs_only_when_every_upstream_failed():
    assert triggers.all_failed.verdict(upstream(Failed(), TriggerFailed())).decision is RUN
    assert triggers.all_failed.verdict(upstream(Failed(), Success())).decision is FAIL


def test_any_successful_runs_when_one_upstream_succeeded():
    assert triggers.any_successful.verdict(upstream(Failed(), Success())).decision is RUN
    assert triggers.any_successful.verdict(upstream(Failed(), Failed())).decision is FAIL


def test_any_failed_runs_when_one_upstream_failed():
    assert triggers.any_failed.verdict(upstream(Success(), Failed())).decision is RUN
    assert triggers.any_failed.verdict(upstream(Success(), Success())).decision is FAIL


def test_all_finished_runs_whatever_the_outcome_but_not_while_an_upstream_runs():
    assert triggers.all_finished.verdict(upstream(Success(), Failed(), Skipped())).decision is RUN
    assert triggers.all_finished.verdict(upstream(Success(), Running())).decision is FAIL


def test_always_run_is_all_finished():
    assert triggers.always_run is triggers.all_finished


def test_manual_only_pauses_whatever_the_upstream_states():
    for states in [(), (Success(),), (Failed(),)]:
        verdict = triggers.manual_only.verdict(upstream(*states))
        assert verdict.decision is PAUSE
        assert "resume" in verdict.reason


def test_not_all_skipped_skips_when_every_upstream_skipped():
    assert triggers.not_all_skipped.verdict(upstream(Skipped(), Skipped())).decision is SKIP


def test_not_all_skipped_runs_when_some_upstream_succeeded_without_skipping():
    assert triggers.not_all_skipped.verdict(upstream(Skipped(), Success())).decision is RUN


def test_not_all_skipped_fails_when_an_upstream_failed():
    assert triggers.not_all_skipped.verdict(upstream(Skipped(), Failed())).decision is FAIL


def test_a_mapped_upstream_is_judged_by_its_children():
    parent = Mapped(map_states=[Success(), Failed(), Success()])
    assert triggers.all_successful.verdict(upstream(parent)).decision is FAIL
    assert triggers.any_failed.verdict(upstream(parent)).decision is RUN
    assert triggers.some_failed(at_most=1).verdict(upstream(parent)).decision is RUN
    assert triggers.some_failed(at_least=2).verdict(upstream(parent)).decision is FAIL


def test_a_mapped_upstream_with_no_children_counts_as_one_success():
    assert triggers.all_successful.verdict(upstream(Mapped(map_states=[]))).decision is RUN


def test_trigger_result_is_truthy_only_when_the_task_should_run():
    assert TriggerResult(RUN)
    assert not TriggerResult(FAIL)
    assert not TriggerResult(SKIP)
    assert not TriggerResult(PAUSE)


# ---- some_failed / some_successful: counts and fractions ---------------------------------------
FOUR_WITH_ONE_FAILED = (Failed(), Success(), Success(), Success())
FOUR_WITH_THREE_FAILED = (Failed(), Failed(), TriggerFailed(), Success())


@pytest.mark.parametrize(
    ("at_least", "at_most", "states", "decision"),
    [
        (1, None, FOUR_WITH_ONE_FAILED, RUN),
        (2, None, FOUR_WITH_ONE_FAILED, FAIL),
        (None, 1, FOUR_WITH_ONE_FAILED, RUN),
        (None, 2, FOUR_WITH_THREE_FAILED, FAIL),
        (1, 3, FOUR_WITH_THREE_FAILED, RUN),
        (0, 0, FOUR_WITH_ONE_FAILED, FAIL),
        # fractions: floats are shares of the upstream states
        (0.25, None, FOUR_WITH_ONE_FAILED, RUN),
        (0.5, None, FOUR_WITH_ONE_FAILED, FAIL),
        (None, 0.5, FOUR_WITH_THREE_FAILED, FAIL),
        (None, 0.75, FOUR_WITH_THREE_FAILED, RUN),
        (0.5, 0.75, FOUR_WITH_THREE_FAILED, RUN),
        # 1.0 is all of them, not a count of one
        (1.0, None, FOUR_WITH_ONE_FAILED, FAIL),
        (1.0, None, (Failed(), Failed()), RUN),
        (None, 0.0, FOUR_WITH_ONE_FAILED, FAIL),
    ],
)
def test_some_failed_bounds_the_count_or_fraction_of_failed_upstream(
    at_least, at_most, states, decision
):
    assert (
        triggers.some_failed(at_least=at_least, at_most=at_most).verdict(upstream(*states)).decision
        is decision
    )


@pytest.mark.parametrize(
    ("at_least", "at_most", "decision"),
    [
        (3, None, RUN),
        (4, None, FAIL),
        (0.75, None, RUN),
        (1.0, None, FAIL),
        (None, 2, FAIL),
        (None, 0.8, RUN),
    ],
)
def test_some_successful_bounds_the_count_or_fraction_of_successful_upstream(
    at_least, at_most, decision
):
    verdict = triggers.some_successful(at_least=at_least, at_most=at_most).verdict(
        upstream(*FOUR_WITH_ONE_FAILED)
    )
    assert verdict.decision is decision


def test_some_failed_reason_shows_the_count_and_the_bound():
    verdict = triggers.some_failed(at_least=2).verdict(upstream(*FOUR_WITH_ONE_FAILED))
    assert verdict.reason == "1 of 4 upstream: fewer than at_least=2."


def test_parameterised_triggers_are_named_for_their_arguments():
    assert triggers.some_failed(at_most=2).__name__ == "some_failed(at_most=2)"
    assert triggers.some_successful(at_least=0.5, at_most=3).__name__ == (
        "some_successful(at_least=0.5, at_most=3)"
    )


@pytest.mark.parametrize("bound", [-1, 1.5, -0.1, True, "1", [1]])
@pytest.mark.parametrize("factory", [triggers.some_failed, triggers.some_successful])
def test_some_triggers_reject_bounds_that_are_neither_counts_nor_fractions(factory, bound):
    with pytest.raises(ValueError, match=r"expected a count \(an int >= 0\) or a fraction"):
        factory(at_least=bound)


def test_triggers_pickle_so_they_can_ship_with_a_task():
    for trigger in (*SIMPLE_TRIGGERS.values(), triggers.some_failed(at_least=1)):
        import cloudpickle

        restored = cloudpickle.loads(cloudpickle.dumps(trigger))
        assert (
            restored.verdict(upstream(Success())).decision
            is trigger.verdict(upstream(Success())).decision
        )
    assert pickle.loads(pickle.dumps(TriggerResult(RUN, "why"))) == TriggerResult(RUN, "why")


def test_unfinished_upstream_states_are_not_failures_for_all_successful_but_block_all_finished():
    # the executor never evaluates a trigger before upstream is finished; the triggers still
    # answer sensibly when asked
    assert triggers.all_successful.verdict(upstream(Pending())).decision is FAIL
    assert triggers.all_finished.verdict(upstream(Pending())).decision is FAIL
