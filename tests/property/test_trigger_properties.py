"""Each trigger agrees with its one-sentence definition on random finished upstream states."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import triggers
from orchestrator.core import Edge, Task
from orchestrator.triggers import Decision
from taskrun import states

FINISHED_CLASSES = [
    states.Success,
    states.Completed,
    states.Cached,
    states.Skipped,
    states.Failed,
    states.TriggerFailed,
    states.TimedOut,
    states.Cancelled,
]
SETTINGS = settings(max_examples=100, deadline=None)

finished_states = st.lists(st.sampled_from(FINISHED_CLASSES).map(lambda cls: cls()), max_size=8)


def upstream(found):
    downstream = Task(name="downstream")
    return {Edge(Task(name=f"u{i}"), downstream): state for i, state in enumerate(found)}


def runs(trigger, found) -> bool:
    return trigger.verdict(upstream(found)).decision is Decision.RUN


@SETTINGS
@given(finished_states)
def test_each_simple_trigger_runs_exactly_when_its_definition_holds(found):
    successes = sum(s.is_successful() for s in found)
    failures = sum(s.is_failed() for s in found)
    assert runs(triggers.all_successful, found) == (successes == len(found))
    assert runs(triggers.all_failed, found) == (failures == len(found))
    assert runs(triggers.any_successful, found) == (not found or successes > 0)
    assert runs(triggers.any_failed, found) == (not found or failures > 0)
    assert runs(triggers.all_finished, found)
    assert triggers.manual_only.verdict(upstream(found)).decision is Decision.PAUSE


@SETTINGS
@given(finished_states)
def test_not_all_skipped_skips_exactly_when_every_upstream_skipped(found):
    decision = triggers.not_all_skipped.verdict(upstream(found)).decision
    if found and all(s.is_skipped() for s in found):
        assert decision is Decision.SKIP
    elif all(s.is_successful() for s in found):
        assert decision is Decision.RUN
    else:
        assert decision is Decision.FAIL


bounds = st.one_of(
    st.none(), st.integers(min_value=0, max_value=9), st.floats(min_value=0.0, max_value=1.0)
)


@SETTINGS
@given(finished_states, bounds, bounds)
def test_some_failed_and_some_successful_run_exactly_when_the_count_is_within_bounds(
    found, at_least, at_most
):
    def within(count: int) -> bool:
        def limit(bound):
            return bound * len(found) if isinstance(bound, float) else bound

        return (at_least is None or count >= limit(at_least)) and (
            at_most is None or count <= limit(at_most)
        )

    failures = sum(s.is_failed() for s in found)
    successes = sum(s.is_successful() for s in found)
    assert runs(triggers.some_failed(at_least=at_least, at_most=at_most), found) == within(failures)
    assert runs(triggers.some_successful(at_least=at_least, at_most=at_most), found) == (
        within(successes)
    )
