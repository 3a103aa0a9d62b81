"""Prefect 1's states and signals in the details: equality, context, the class tree, start
times, and the state every signal carries."""

from __future__ import annotations

import datetime as dt
import pickle

import cloudpickle
import pytest

from orchestrator import context, task
from orchestrator.engine import signals
from orchestrator.engine.state import (
    Cached,
    Completed,
    Failed,
    Finished,
    Looped,
    Mapped,
    Paused,
    Pending,
    Resume,
    Retrying,
    Running,
    Scheduled,
    Skipped,
    State,
    Success,
    TimedOut,
    TriggerFailed,
    ValidationFailed,
)
from taskrun import pause_task
from taskrun.errors import TriggerFailedError
from taskrun.execute import run_task
from taskrun.retries import SINGLE_PASS
from taskrun.states import PAUSE_HORIZON

UTC = dt.UTC


def _close_to(moment: dt.datetime, expected: dt.datetime) -> bool:
    return abs((moment - expected).total_seconds()) < 60


# ---- equality and hashing -----------------------------------------------------------------------
def test_states_with_the_same_class_and_result_are_equal_whatever_their_messages():
    assert Success("first", 1) == Success("second", 1)
    assert Success("same", 1) != Success("same", 2)
    assert Success("same", 1) != Completed("same", 1)


def test_cached_inputs_take_part_in_equality():
    assert Paused(cached_inputs={"x": 1}) == Paused("other", cached_inputs={"x": 1})
    assert Paused(cached_inputs={"x": 1}) != Paused(cached_inputs={"x": 2})


def test_equal_states_stay_distinct_members_of_a_set_as_in_prefect_1():
    first, second = Success("a", 1), Success("b", 1)
    assert first == second
    assert len({first, second}) == 2
    assert {first: "x"}[first] == "x"


# ---- context ------------------------------------------------------------------------------------
def test_a_state_has_an_empty_context_by_default_and_keeps_the_one_given():
    assert dict(Success().context) == {}
    state = Success(context={"tags": ["etl"], "task_run_count": 2})
    assert state.context["tags"] == ["etl"]
    assert state.evolve(message="copy").context["task_run_count"] == 2


def test_a_state_context_is_read_only_and_changed_by_a_copy():
    state = Success(context={"tags": []})
    with pytest.raises(TypeError):
        state.context["tags"] = ["x"]  # type: ignore[index]
    assert dict(state.evolve(context={"tags": ["x"]}).context) == {"tags": ["x"]}
    assert dict(state.context) == {"tags": []}


def test_a_state_context_survives_pickling():
    state = Failed("no", ValueError("x"), context={"task_run_count": 3})
    assert pickle.loads(pickle.dumps(state)).context["task_run_count"] == 3


# ---- the class tree ------------------------------------------------------------------------------
def test_children_lists_every_subclass_and_parents_the_bases_nearest_first():
    assert set(Failed.children()) == {TriggerFailed, TimedOut, ValidationFailed}
    assert Failed.children(include_self=True)[0] is Failed
    assert set(Success.children(names_only=True)) == {"Completed", "Cached", "Mapped", "Skipped"}
    assert TriggerFailed.parents() == [Failed, Finished, State]
    assert Retrying.parents(names_only=True, include_self=True) == [
        "Retrying", "Scheduled", "Pending", "State",
    ]  # fmt: skip
    assert State.parents() == []


def test_validation_failed_and_looped_sit_where_prefect_1_puts_them():
    assert ValidationFailed.parents()[:2] == [Failed, Finished]
    assert ValidationFailed().is_failed()
    looped = Looped(loop_count=3)
    assert looped.is_finished()
    assert looped.is_looped()
    assert not looped.is_successful()
    assert not looped.is_failed()
    assert looped.loop_count == 3


# ---- start times ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Scheduled, Retrying, Resume])
def test_scheduled_states_are_due_now_by_default(cls):
    state = cls()
    assert state.start_time is not None
    assert _close_to(state.start_time, dt.datetime.now(UTC))


def test_a_paused_state_is_scheduled_ten_years_ahead_by_default():
    paused = Paused()
    assert isinstance(paused, Scheduled)
    assert paused.is_scheduled()
    assert paused.start_time is not None
    assert _close_to(paused.start_time, dt.datetime.now(UTC) + PAUSE_HORIZON)
    assert dt.timedelta(days=365 * 10) <= PAUSE_HORIZON


def test_a_naive_start_time_is_utc():
    naive = dt.datetime(2030, 1, 2, 3, 4)
    assert Scheduled(start_time=naive).start_time == naive.replace(tzinfo=UTC)


@pytest.mark.parametrize("cls", [Pending, Running, Success, Failed, Mapped, Cached, Looped])
def test_only_the_scheduled_family_carries_a_start_time(cls):
    assert cls().start_time is None
    with pytest.raises(TypeError, match=r"takes no start_time: only the scheduled states"):
        cls(start_time=dt.datetime.now(UTC))


def test_a_copy_into_a_class_without_start_times_does_not_show_one():
    retrying = Retrying(start_time=dt.datetime(2030, 1, 1, tzinfo=UTC))
    assert retrying.recast(Failed).start_time is None


# ---- signals carry their states ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("signal_class", "state_class"),
    [
        (signals.FAIL, Failed),
        (signals.TRIGGERFAIL, TriggerFailed),
        (signals.VALIDATIONFAIL, ValidationFailed),
        (signals.TIMEOUT, TimedOut),
        (signals.RETRY, Retrying),
        (signals.SKIP, Skipped),
        (signals.PAUSE, Paused),
    ],
)
def test_a_signal_carries_its_state_which_holds_the_signal(signal_class, state_class):
    signal = signal_class("why")
    assert type(signal.state) is state_class
    assert signal.state.message == "why"
    assert signal.state.result(raise_on_failure=False) is signal


def test_success_and_loop_without_a_result_hold_none_not_the_signal():
    assert signals.SUCCESS("done").state.result() is None
    assert signals.SUCCESS("done", result=4).state.result() == 4
    assert signals.LOOP(result=[1]).state.result() == [1]
    assert signals.LOOP().state.result() is None


def test_validationfail_is_a_fail_and_validation_failed_a_failed_state():
    assert issubclass(signals.VALIDATIONFAIL, signals.FAIL)
    with pytest.raises(signals.VALIDATIONFAIL):
        signals.VALIDATIONFAIL("bad rows").state.result()


def test_retry_sets_start_time_and_run_count_on_its_state_naive_times_utc():
    when = dt.datetime(2031, 5, 6, 7, 8)
    retry = signals.RETRY("later", start_time=when, run_count=7)
    assert retry.state.start_time == when.replace(tzinfo=UTC)
    assert retry.state.run_count == 7
    assert (retry.start_time, retry.run_count) == (when.replace(tzinfo=UTC), 7)
    bare = signals.RETRY()
    assert (bare.start_time, bare.run_count) == (None, None)


def test_pause_sets_its_start_time_or_pauses_ten_years():
    when = dt.datetime(2031, 1, 1, tzinfo=UTC)
    assert signals.PAUSE(start_time=when).state.start_time == when
    default = signals.PAUSE().state.start_time
    assert default is not None
    assert default > dt.datetime.now(UTC) + dt.timedelta(days=3000)


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_signals_pickle_with_their_fields_and_rebuild_their_state(dumps):
    when = dt.datetime(2031, 5, 6, tzinfo=UTC)
    restored = pickle.loads(dumps(signals.RETRY("later", start_time=when, run_count=2)))
    assert (restored.message, restored.start_time, restored.run_count) == ("later", when, 2)
    assert restored.state.result(raise_on_failure=False) is restored
    success = pickle.loads(dumps(signals.SUCCESS("ok", result={"a": 1})))
    assert success.state.result() == {"a": 1}
    skipped = pickle.loads(dumps(Skipped("s", signals.SKIP("s"))))
    assert isinstance(skipped.result(), signals.SKIP)


@pytest.mark.parametrize(
    ("state", "signal_class"),
    [
        (Success(), signals.SUCCESS),
        (Completed(), signals.SUCCESS),
        (Mapped(), signals.SUCCESS),
        (Failed(), signals.FAIL),
        (TriggerFailed(), signals.TRIGGERFAIL),
        (ValidationFailed(), signals.VALIDATIONFAIL),
        (TimedOut(), signals.TIMEOUT),
        (Retrying(), signals.RETRY),
        (Skipped(), signals.SKIP),
        (Paused(), signals.PAUSE),
        (Looped(), signals.LOOP),
    ],
    ids=lambda value: type(value).__name__,
)
def test_signal_from_state_gives_the_signal_that_stands_for_a_state(state, signal_class):
    assert signals.signal_from_state(state) is signal_class
    assert signals.signal_from_state(type(state)) is signal_class


def test_signal_from_state_refuses_states_no_signal_stands_for():
    with pytest.raises(ValueError, match=r"No signal stands for a Running state; the signals'"):
        signals.signal_from_state(Running())


def test_a_trigger_failure_error_is_a_triggerfail_carrying_its_state():
    error = TriggerFailedError("load", "Some upstream tasks did not succeed: 'extract'.")
    assert isinstance(error, signals.TRIGGERFAIL)
    assert type(error.state) is TriggerFailed
    assert error.state.result(raise_on_failure=False) is error
    restored = pickle.loads(pickle.dumps(error))
    assert (restored.task_name, restored.reason) == (error.task_name, error.reason)


# ---- pause_task and paused runs in the executor ------------------------------------------------
@task
def deploy() -> str:
    pause_task("Check the build first.")
    return "shipped"


@task
def nap(seconds: float) -> str:
    pause_task(duration=dt.timedelta(seconds=seconds))
    return "awake"


def test_pause_task_pauses_the_run_with_its_inputs_kept():
    state = run_task(deploy)
    assert type(state) is Paused
    assert state.message == "Check the build first."
    assert isinstance(state.result(), signals.PAUSE)
    assert state.cached_inputs == {}
    assert state.start_time is not None
    assert state.start_time > dt.datetime.now(UTC) + dt.timedelta(days=3000)


def test_a_paused_run_stays_paused_until_resumed_then_pause_task_lets_it_go_on():
    paused = run_task(deploy)
    assert run_task(deploy, initial_state=paused) is paused
    assert run_task(deploy, initial_state=paused, sleep=SINGLE_PASS) is paused
    assert run_task(deploy, initial_state=Resume()).result() == "shipped"


def test_a_resumed_run_sees_context_resume():
    @task
    def looks():
        return context.get("resume", False)

    assert run_task(looks).result() is False
    assert run_task(looks, initial_state=Resume()).result() is True


def test_pause_task_with_a_duration_pauses_until_then_and_the_due_run_goes_on():
    state = run_task(nap, inputs={"seconds": 3600})
    assert type(state) is Paused
    assert state.start_time is not None
    assert _close_to(state.start_time, dt.datetime.now(UTC) + dt.timedelta(hours=1))
    assert dict(state.cached_inputs or {}) == {"seconds": 3600}
    due = state.evolve(start_time=dt.datetime.now(UTC) - dt.timedelta(seconds=1))
    assert run_task(nap, initial_state=due).result() == "awake"


def test_pause_task_is_exported_where_prefect_1_users_import_it():
    from orchestrator.utilities.tasks import pause_task as public

    assert public is pause_task


def test_the_prefect1_result_attribute_habit_fails_with_the_right_spelling() -> None:
    from orchestrator import Flow, task

    @task
    def one() -> int:
        return 1

    with Flow("habit") as flow:
        done = one()
    state = flow.run()
    assert state.result()[done].result() == 1
    with pytest.raises(TypeError, match=r"state\.result\(\)\[task\]"):
        state.result[done]
    with pytest.raises(TypeError, match=r"state\.result\(\)"):
        list(state.result)
    assert state.result(raise_on_failure=False)[done].result() == 1
