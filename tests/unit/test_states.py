"""States: predicates, types, reprs, results and the msgpack wire format, per state class."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from orchestrator.engine import state as public_state
from taskrun import states
from taskrun.wire import dump_state, load_state

PREDICATES = (
    "is_pending", "is_scheduled", "is_retrying", "is_paused", "is_resume", "is_running",
    "is_finished", "is_successful", "is_failed", "is_skipped", "is_mapped", "is_cached",
    "is_cancelled", "is_timed_out", "is_trigger_failed", "is_looped",
)  # fmt: skip

#: class -> (the predicates that are true, the type shown in the repr)
EXPECTED = {
    states.State: ({"is_pending"}, "PENDING"),
    states.Pending: ({"is_pending"}, "PENDING"),
    states.Paused: ({"is_pending", "is_scheduled", "is_paused"}, "PAUSED"),
    states.Scheduled: ({"is_pending", "is_scheduled"}, "SCHEDULED"),
    states.Retrying: ({"is_pending", "is_scheduled", "is_retrying"}, "SCHEDULED"),
    states.Resume: ({"is_pending", "is_scheduled", "is_resume"}, "SCHEDULED"),
    states.Running: ({"is_running"}, "RUNNING"),
    states.Finished: ({"is_finished"}, "COMPLETED"),
    states.Success: ({"is_finished", "is_successful"}, "COMPLETED"),
    states.Completed: ({"is_finished", "is_successful"}, "COMPLETED"),
    states.Cached: ({"is_finished", "is_successful", "is_cached"}, "COMPLETED"),
    states.Mapped: ({"is_finished", "is_successful", "is_mapped"}, "COMPLETED"),
    states.Skipped: ({"is_finished", "is_successful", "is_skipped"}, "COMPLETED"),
    states.Failed: ({"is_finished", "is_failed"}, "FAILED"),
    states.TriggerFailed: ({"is_finished", "is_failed", "is_trigger_failed"}, "FAILED"),
    states.TimedOut: ({"is_finished", "is_failed", "is_timed_out"}, "FAILED"),
    states.ValidationFailed: ({"is_finished", "is_failed"}, "FAILED"),
    states.Looped: ({"is_finished", "is_looped"}, "COMPLETED"),
    states.Cancelled: ({"is_finished", "is_cancelled"}, "CANCELLED"),
}
ALL_CLASSES = list(states.ALL_STATE_CLASSES)


def all_subclasses(cls):
    found = {cls}
    for sub in cls.__subclasses__():
        found |= all_subclasses(sub)
    return found


def test_every_state_class_is_listed_and_has_expectations():
    assert all_subclasses(states.State) == set(ALL_CLASSES) == set(EXPECTED)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_state_class_is_importable_from_the_public_path(cls):
    assert getattr(public_state, cls.__name__) is cls


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_predicates_of_each_state_class(cls):
    true_ones, _ = EXPECTED[cls]
    state = cls()
    assert {name for name in PREDICATES if getattr(state, name)()} == true_ones
    assert state.is_completed() is state.is_successful()


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_repr_shows_name_message_and_type(cls):
    _, type_name = EXPECTED[cls]
    assert repr(cls("why")) == f"{cls.__name__}(message='why', type={type_name})"
    assert repr(cls()) == f"{cls.__name__}(message=None, type={type_name})"


def test_the_repr_of_a_failed_run_matches_the_specification():
    state = states.Failed("Task run encountered an exception.", ValueError("x"))
    assert repr(state) == "Failed(message='Task run encountered an exception.', type=FAILED)"


def test_completed_is_success_under_the_futures_name():
    assert issubclass(states.Completed, states.Success)
    assert repr(states.Completed()) == "Completed(message=None, type=COMPLETED)"


def test_a_pending_state_may_be_named_not_ready():
    state = states.Pending("Upstream failed.", name="NotReady")
    assert state.name == "NotReady"
    assert state.is_pending()
    assert repr(state) == "NotReady(message='Upstream failed.', type=PENDING)"


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_state_has_a_notebook_display(cls):
    html = cls("a <b> message")._repr_html_()
    assert cls.__name__ in html
    assert "a &lt;b&gt; message" in html


# ---- results -------------------------------------------------------------------------------------
def test_result_returns_the_value_of_a_successful_state():
    assert states.Success("done", {"rows": 3}).result() == {"rows": 3}


def test_result_re_raises_the_error_of_a_failed_state_unless_asked_not_to():
    error = KeyError("rows")
    state = states.Failed("boom", error)
    with pytest.raises(KeyError, match="rows"):
        state.result()
    assert state.result(raise_on_failure=False) is error
    assert state.data is error


def test_result_of_a_failed_state_without_an_exception_returns_its_value():
    assert states.Failed("no error object", "details").result() == "details"


def test_result_of_a_mapped_state_lists_its_childrens_results_in_order():
    parent = states.Mapped(map_states=[states.Success(result=i) for i in range(3)])
    assert parent.result() == [0, 1, 2]


def test_result_of_a_mapped_state_with_a_failed_child_raises_that_childs_error():
    parent = states.Mapped(
        map_states=[states.Success(result=1), states.Failed(result=ValueError("c"))]
    )
    with pytest.raises(ValueError, match="c"):
        parent.result()
    assert isinstance(parent.result(raise_on_failure=False)[1], ValueError)


def test_result_of_a_failed_state_holding_states_raises_the_first_failed_ones_error():
    flow_state = states.Failed(
        "1/2 states failed.", [states.Success(result=1), states.Failed(result=OSError("disk"))]
    )
    with pytest.raises(OSError, match="disk"):
        flow_state.result()


def test_with_result_copies_the_state_with_a_new_value():
    original = states.Success("done", 1)
    copy = original.with_result(2)
    assert (type(copy), copy.message, copy.result()) == (states.Success, "done", 2)
    assert original.result() == 1


def test_states_are_equal_by_class_message_and_result_not_timestamp():
    first = states.Success("m", 1, timestamp=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert first == states.Success("m", 1)
    assert first != states.Success("m", 2)
    assert first != states.Completed("m", 1)
    assert states.Success("m", [1]) != states.Failed("m", [1])


def test_states_stay_hashable():
    state = states.Success()
    assert {state: 1}[state] == 1


# ---- the msgpack wire format -----------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_state_class_round_trips_through_msgpack(cls):
    start = dt.datetime(2020, 3, 2, 12, 0, tzinfo=dt.UTC)
    scheduled = issubclass(cls, states.Scheduled)  # only these carry a start time
    state = cls(
        "message",
        {"value": [1, 2]},
        name="shown",
        **({"start_time": start} if scheduled else {}),
        run_count=2,
        duration=0.5,
    )
    start = start if scheduled else None
    restored = load_state(dump_state(state))
    assert type(restored) is cls
    assert restored == state
    assert (restored.name, restored.message, restored.data) == (
        "shown",
        "message",
        {"value": [1, 2]},
    )
    assert (restored.start_time, restored.run_count, restored.duration) == (start, 2, 0.5)
    assert restored.timestamp == state.timestamp


def test_an_exception_result_and_mapped_children_round_trip_through_msgpack():
    parent = states.Mapped(
        "2 children",
        map_states=[
            states.Success(result=1),
            states.Failed("boom", ValueError("child one")),
        ],
    )
    restored = load_state(dump_state(parent))
    assert [type(c) for c in restored.map_states] == [states.Success, states.Failed]
    assert restored.map_states[0].result() == 1
    error = restored.map_states[1].result(raise_on_failure=False)
    assert isinstance(error, ValueError)
    assert str(error) == "child one"


def test_dump_state_without_the_result_sends_only_metadata():
    data = dump_state(states.Success("done", b"x" * 10_000), include_result=False)
    assert len(data) < 500
    restored = load_state(data)
    assert restored.message == "done"
    assert restored.data is None


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_state_class_pickles(cls):
    state = cls("m", [1])
    assert pickle.loads(pickle.dumps(state)) == state
