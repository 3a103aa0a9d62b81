"""The transition table: what the engine may propose, and that runs obey it."""

from __future__ import annotations

import pickle

import pytest

from orchestrator import Flow, task
from orchestrator.engine import TaskRunner, signals
from taskrun.states import (
    ALL_STATE_CLASSES,
    FINISHED,
    Failed,
    Paused,
    Pending,
    Retrying,
    Running,
    Skipped,
    StateKind,
    Success,
    TimedOut,
)
from taskrun.transitions import ALLOWED, InvalidTransitionError, check_transition, is_allowed

STATES = [cls() for cls in ALL_STATE_CLASSES]


@pytest.mark.parametrize("old", STATES, ids=lambda s: type(s).__name__)
def test_no_finished_state_moves_on_except_a_failure_into_a_retry(old):
    retryable = (StateKind.FAILED, StateKind.TIMED_OUT, StateKind.VALIDATION_FAILED)
    for new in STATES:
        allowed = is_allowed(old, new)
        if old.kind is StateKind.LOOPED:  # finished but not final: the next iteration runs
            assert allowed == (new.kind in (StateKind.RUNNING, StateKind.FAILED))
        elif old.kind in FINISHED and old.kind not in retryable:
            assert not allowed
        elif old.kind in retryable:
            assert allowed == (new.kind is StateKind.RETRYING)


@pytest.mark.parametrize("old", [Pending(), Retrying(), Paused()], ids=lambda s: s.name)
def test_a_run_must_start_running_before_it_can_succeed(old):
    assert is_allowed(old, Running())
    assert not is_allowed(old, Success())


def test_every_kind_has_an_entry_or_is_final():
    assert set(ALLOWED) <= set(StateKind)
    moving_on = {
        StateKind.FAILED,
        StateKind.TIMED_OUT,
        StateKind.VALIDATION_FAILED,
        StateKind.LOOPED,
    }
    assert all(kind not in ALLOWED for kind in FINISHED - moving_on)


def test_an_invalid_transition_names_the_task_both_states_and_says_it_is_a_bug():
    with pytest.raises(InvalidTransitionError, match=r"Task 'load': invalid transition Success"):
        check_transition("load", Success(), Running())
    error = InvalidTransitionError("load", "Success()", "Running()")
    assert "please report it" in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_a_handler_that_refuses_to_start_the_run_stops_it_before_the_body():
    calls = []

    def refuse(task_obj, old, new):
        return Skipped("Not today.") if new.is_running() else new

    @task(state_handlers=[refuse])
    def body():
        calls.append("ran")

    state = TaskRunner(task=body).run()
    assert state.is_skipped()
    assert state.message == "Not today."
    assert calls == []


def test_every_move_of_a_retried_then_failed_run_is_allowed_by_the_table():
    seen = []

    def record(task_obj, old, new):
        seen.append((old, new))
        return new

    @task(max_retries=1, retry_delay=0, state_handlers=[record])
    def flaky():
        raise signals.TIMEOUT("slow")

    with Flow("moves") as flow:
        flaky()
    flow.run()
    kinds = [(o.kind, n.kind) for o, n in seen]
    assert kinds == [
        (StateKind.PENDING, StateKind.RUNNING),
        (StateKind.RUNNING, StateKind.TIMED_OUT),
        (StateKind.TIMED_OUT, StateKind.RETRYING),
        (StateKind.RETRYING, StateKind.RUNNING),
        (StateKind.RUNNING, StateKind.TIMED_OUT),
    ]
    assert all(is_allowed(o, n) for o, n in seen)
    assert isinstance(seen[-1][1], TimedOut)
    assert isinstance(seen[-1][1], Failed)
