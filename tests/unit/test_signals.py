"""Signals: the table from signal to state, and what each does to a task run."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator import task
from orchestrator.engine import TaskRunner, signals
from orchestrator.engine.state import (
    Failed,
    Paused,
    Retrying,
    Skipped,
    Success,
    TimedOut,
    TriggerFailed,
)
from taskrun.signals import SIGNAL_STATES, Signal, state_for_signal


def all_subclasses(cls):
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


def public_signals():
    """The signals of ``taskrun.signals`` (not the executor's own ``TriggerFailedError``)."""
    return {cls for cls in all_subclasses(Signal) if cls.__module__ == "taskrun.signals"}


def test_the_signal_table_covers_every_signal_subclass():
    assert public_signals() <= set(SIGNAL_STATES)


def test_every_public_signal_is_exported_from_the_engine():
    for cls in public_signals():
        assert getattr(signals, cls.__name__) is cls


@pytest.mark.parametrize(
    ("signal", "state_class"),
    [
        (signals.SUCCESS, Success),
        (signals.FAIL, Failed),
        (signals.TRIGGERFAIL, TriggerFailed),
        (signals.TIMEOUT, TimedOut),
        (signals.RETRY, Retrying),
        (signals.SKIP, Skipped),
        (signals.PAUSE, Paused),
    ],
)
def test_each_signal_asks_for_its_state_with_its_message(signal, state_class):
    state = state_for_signal(signal("because"))
    assert type(state) is state_class
    assert state.message == "because"


@pytest.mark.parametrize("signal", [signals.FAIL, signals.TRIGGERFAIL, signals.TIMEOUT])
def test_failing_signals_keep_the_signal_as_the_result(signal):
    raised = signal("no")
    state = state_for_signal(raised)
    assert state.result(raise_on_failure=False) is raised
    with pytest.raises(signal):
        state.result()


def test_a_custom_signal_subclass_gets_the_state_of_its_nearest_listed_parent():
    class NOTFOUND(signals.SKIP):
        pass

    assert type(state_for_signal(NOTFOUND("gone"))) is Skipped


def test_endrun_ends_in_exactly_its_state():
    wanted = Skipped("nothing to do")
    assert state_for_signal(signals.ENDRUN(wanted)) is wanted


def test_endrun_without_a_state_fails_and_says_so():
    error = signals.ENDRUN()
    assert isinstance(error.state, Failed)
    assert str(error) == "ENDRUN raised without a state."


def test_a_signal_without_a_message_reads_as_its_name():
    assert str(signals.FAIL()) == "FAIL signal raised"
    assert str(signals.SKIP("why")) == "why"


# ---- in the executor --------------------------------------------------------------------------
def test_success_with_a_result_ends_successful_with_that_result():
    @task
    def early():
        raise signals.SUCCESS("done early", result=5)

    state = TaskRunner(early).run()
    assert type(state) is Success
    assert state.result() == 5
    assert state.message == "done early"


def test_fail_is_retried_like_any_error():
    attempts = []

    @task(max_retries=1, retry_delay=dt.timedelta(0))
    def failing():
        attempts.append(1)
        raise signals.FAIL("not yet")

    first = TaskRunner(failing).run()  # a single pass: one attempt, then Retrying
    assert first.is_retrying()
    assert TaskRunner(failing).run(state=first).is_failed()
    assert len(attempts) == 2


def test_triggerfail_raised_in_a_body_is_never_retried():
    attempts = []

    @task(max_retries=3, retry_delay=dt.timedelta(0))
    def refusing():
        attempts.append(1)
        raise signals.TRIGGERFAIL("upstream data is stale")

    state = TaskRunner(refusing).run()
    assert isinstance(state, TriggerFailed)
    assert len(attempts) == 1


def test_endrun_is_final_even_with_retries_left():
    attempts = []

    @task(max_retries=3, retry_delay=dt.timedelta(0))
    def ending():
        attempts.append(1)
        raise signals.ENDRUN(Failed("stop here"))

    state = TaskRunner(ending).run()
    assert type(state) is Failed
    assert state.message == "stop here"
    assert len(attempts) == 1


def test_skip_raised_in_a_body_skips_the_task():
    @task
    def skipping():
        raise signals.SKIP("nothing new")

    state = TaskRunner(skipping).run()
    assert type(state) is Skipped
    assert state.is_successful()


def test_signals_raised_by_a_custom_trigger_decide_the_task():
    def pausing_trigger(upstream_states):
        raise signals.PAUSE("needs a person")

    def skipping_trigger(upstream_states):
        raise signals.SKIP("nothing upstream")

    def failing_trigger(upstream_states):
        raise signals.FAIL("bad upstream")

    for trigger, expected in (
        (pausing_trigger, Paused),
        (skipping_trigger, Skipped),
        (failing_trigger, TriggerFailed),
    ):

        @task(trigger=trigger)
        def guarded():
            return "ran"

        assert type(TaskRunner(guarded).run()) is expected


def test_a_custom_trigger_may_return_a_bool():
    @task(trigger=lambda upstream_states: False)
    def never():
        return "ran"

    @task(trigger=lambda upstream_states: True)
    def always():
        return "ran"

    state = TaskRunner(never).run()
    assert isinstance(state, TriggerFailed)
    assert "returned False" in state.message
    assert TaskRunner(always).run().result() == "ran"


def test_a_custom_trigger_that_raises_fails_the_trigger_naming_it_not_the_orchestrator():
    def broken_trigger(upstream_states):
        raise KeyError("oops")

    @task(trigger=broken_trigger)
    def guarded():
        return "ran"

    state = TaskRunner(guarded).run()
    assert isinstance(state, TriggerFailed)
    assert "Trigger 'broken_trigger' raised KeyError('oops')" in state.message
    assert "bug in the orchestrator" not in state.message
