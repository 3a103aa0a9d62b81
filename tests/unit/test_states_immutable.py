"""States are values: writes of their fields are refused, ``evolve``/``recast``/``with_result``
make changed copies, ``==`` never loads a deferred result, and users' subclasses keep their
own attributes (fixed once built, like the rest)."""

from __future__ import annotations

import copy
import datetime as dt
import gc
import pickle
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

from orchestrator import task
from orchestrator.engine import TaskRunner
from taskrun import signals, states
from taskrun.states import DeferredResult

ALL_CLASSES = list(states.ALL_STATE_CLASSES)
START = dt.datetime(2021, 5, 4, 12, 0, tzinfo=dt.UTC)
#: a value for each field that differs from what ``full_state`` holds
NEW_VALUES: dict[str, Any] = {
    "message": "changed",
    "result": [9],
    "name": "Renamed",
    "map_states": [states.Success(result=7)],
    "start_time": START + dt.timedelta(hours=1),
    "run_count": 5,
    "cached_inputs": {"x": 2},
    "timestamp": dt.datetime(2022, 1, 1, tzinfo=dt.UTC),
    "duration": 2.5,
    "context": {"tags": ["b"]},
}
FIELDS = list(NEW_VALUES)


def full_state(cls: type[states.State]) -> states.State:
    """A state with every field set to something other than its default (``start_time``
    only on the scheduled family, the one that carries it)."""
    scheduled = issubclass(cls, states.Scheduled)
    return cls(
        "original",
        [1],
        name="Shown",
        map_states=[states.Success(result=1)],
        **({"start_time": START} if scheduled else {}),
        run_count=2,
        cached_inputs={"x": 1},
        timestamp=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        duration=0.5,
        context={"tags": ["a"]},
    )


def fields_of(state: states.State) -> dict[str, Any]:
    return {field: getattr(state, field) for field in FIELDS if field != "result"} | {
        "result": state.data
    }


@pytest.fixture
def collect_subclasses() -> Iterator[None]:
    """Subclasses made by a test must not outlive it: ``State.__subclasses__()`` is pinned."""
    yield
    gc.collect()


# ---- writes are refused --------------------------------------------------------------------------
FIELDS_BUT_RESULT = [field for field in FIELDS if field != "result"]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("field", FIELDS_BUT_RESULT)
def test_assigning_any_field_of_any_state_class_raises_and_names_evolve(cls, field):
    state = full_state(cls)
    before = fields_of(state)
    with pytest.raises(
        AttributeError, match=rf"states are values.*state\.evolve\({field}=\.\.\.\)"
    ):
        setattr(state, field, NEW_VALUES[field])
    assert fields_of(state) == before


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ["result", "colour"])
def test_the_result_method_cannot_be_replaced_and_no_attribute_can_be_added(cls, name):
    state = full_state(cls)
    with pytest.raises(AttributeError, match=name):
        setattr(state, name, NEW_VALUES["result"])
    assert state.data == [1]
    assert not hasattr(state, "__dict__")


@pytest.mark.parametrize("field", FIELDS_BUT_RESULT)
def test_deleting_a_field_raises(field):
    state = full_state(states.Retrying)
    with pytest.raises(AttributeError, match=rf"Cannot delete '{field}' of a Retrying state"):
        delattr(state, field)
    assert fields_of(state)[field] is not None


# ---- changed copies -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("field", FIELDS)
def test_evolve_changes_one_field_of_a_copy_and_leaves_the_original_as_it_was(cls, field):
    original = full_state(cls)
    before = fields_of(original)
    changed = original.evolve(**{field: NEW_VALUES[field]})
    assert type(changed) is cls
    assert changed is not original
    expected = NEW_VALUES[field]
    if field == "start_time" and not issubclass(cls, states.Scheduled):
        expected = None  # only the scheduled family carries a start time
    assert fields_of(changed) == before | {field: expected}
    assert fields_of(original) == before


def test_evolve_normalises_like_the_constructor():
    state = states.Mapped("m", name="Shown", map_states=[states.Success()])
    assert state.evolve(name=None).name == "Mapped"
    assert state.evolve(map_states=[]).map_states == []
    assert state.evolve(run_count=0).run_count == 0
    fresh = state.evolve(timestamp=None).timestamp
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - fresh < dt.timedelta(minutes=1)


def test_evolve_without_changes_is_an_equal_copy():
    state = full_state(states.Retrying)
    same = state.evolve()
    assert same == state
    assert same is not state
    assert fields_of(same) == fields_of(state)


def test_evolve_refuses_a_name_that_is_not_a_field():
    with pytest.raises(TypeError, match=r"Success.evolve\(\) got 'mesage', which is not a field"):
        states.Success("m").evolve(mesage="typo")


def test_recast_changes_the_class_and_the_given_fields_only():
    original = full_state(states.Success)
    shown = original.recast(states.Completed, message=None, name="Completed")
    assert type(shown) is states.Completed
    assert (shown.message, shown.name) == (None, "Completed")
    assert fields_of(shown) | {"message": "original", "name": "Shown"} == fields_of(original)
    assert type(original) is states.Success


def test_with_result_shares_everything_but_the_result():
    original = full_state(states.Failed)
    error = ValueError("new")
    copied = original.with_result(error)
    assert copied.result(raise_on_failure=False) is error
    assert fields_of(copied) | {"result": [1]} == fields_of(original)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_pickles_and_copies_keep_every_field(cls):
    state = full_state(cls)
    for restored in (pickle.loads(pickle.dumps(state)), copy.copy(state), copy.deepcopy(state)):
        assert type(restored) is cls
        assert fields_of(restored) == fields_of(state)
        with pytest.raises(AttributeError, match="states are values"):
            restored.message = "x"


def test_the_timestamp_is_now_in_utc_unless_given():
    before = dt.datetime.now(dt.UTC)
    stamp = states.Running().timestamp
    assert before <= stamp <= dt.datetime.now(dt.UTC)
    assert stamp.tzinfo is dt.UTC
    given = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert states.Running(timestamp=given).timestamp is given


def test_a_message_is_kept_as_the_very_object_given():
    class Markup(str):
        pass

    plain, marked = "Task run succeeded.", Markup("Task run succeeded.")
    assert states.Success(plain).message is plain
    assert states.Success(marked).message is marked
    assert states.Success(plain).evolve(message=marked).message is marked
    assert states.Success(["not", "hashable"]).message == ["not", "hashable"]  # type: ignore[arg-type]


def test_an_endrun_state_is_not_changed_by_the_run_that_ends_in_it():
    chosen = states.Success("Chosen by the task.", 5)

    @task
    def ends():
        raise signals.ENDRUN(chosen)

    final = TaskRunner(ends).run()
    assert final == chosen
    assert isinstance(final.duration, float)
    assert chosen.duration is None


# ---- equality never loads -----------------------------------------------------------------------
class RecordingResult(DeferredResult):
    """A deferred result that records every load and fails it, like a closed Dask client."""

    __slots__ = ("key", "loads")

    def __init__(self, key: str = "add-0") -> None:
        self.key = key
        self.loads: list[str] = []

    def load(self) -> Any:
        self.loads.append(self.key)
        raise ConnectionError(f"{self.key}: no network in unit tests")


class KeyedResult(RecordingResult):
    """Two references to one stored value are the same when their keys are."""

    __slots__ = ()

    def is_same_reference(self, other: DeferredResult) -> bool:
        return isinstance(other, KeyedResult) and other.key == self.key


def test_a_state_holding_a_deferred_result_equals_itself_and_copies_without_loading():
    deferred = RecordingResult()
    state = states.Success("done", deferred)
    assert state == state.evolve()
    assert state == state.with_result(deferred)
    assert state == states.Success("done", deferred)
    assert deferred.loads == []


def test_different_deferred_results_and_deferred_against_a_value_differ_without_loading():
    first, second = RecordingResult("a-0"), RecordingResult("a-0")
    assert states.Success("done", first) != states.Success("done", second)
    assert states.Success("done", first) != states.Success("done", 3)
    assert states.Success("done", 3) != states.Success("done", first)
    assert states.Success("done", first) != states.Success("done", None)
    assert first.loads == second.loads == []


def test_a_deferred_result_may_say_it_refers_to_the_same_value():
    same = states.Failed("boom", KeyedResult("k-1")) == states.Failed("boom", KeyedResult("k-1"))
    other = states.Failed("boom", KeyedResult("k-1")) == states.Failed("boom", KeyedResult("k-2"))
    assert (same, other) == (True, False)


@pytest.mark.usefixtures("collect_subclasses")
def test_a_loaded_result_is_memoised_and_then_compared_by_value():
    class Once(DeferredResult):
        __slots__ = ("loads",)

        def __init__(self) -> None:
            self.loads = 0

        def load(self) -> Any:
            self.loads += 1
            return {"rows": 3}

    deferred = Once()
    state = states.Success("done", deferred)
    assert state != states.Success("done", {"rows": 3})  # not known here yet
    assert [state.result(), state.result(), state.data] == [{"rows": 3}] * 3
    assert deferred.loads == 1
    assert state == states.Success("done", {"rows": 3})


def test_equality_compares_class_result_and_cached_inputs_not_message_or_name():
    # Prefect 1's rule: the message (and here the display name) do not make states differ
    assert states.Success("m", 1) == states.Success("m", 1, duration=3.0, run_count=2)
    assert states.Success("m", 1) == states.Success("n", 1)
    assert states.Success("m", 1) == states.Success("m", 1, name="Other")
    assert states.Success("m", 1) != states.Completed("m", 1)
    assert states.Paused(cached_inputs={"x": 1}) != states.Paused(cached_inputs={"x": 2})


# ---- users' subclasses --------------------------------------------------------------------------
@pytest.mark.usefixtures("collect_subclasses")
def test_a_subclass_with_its_own_attributes_is_built_copied_and_pickled_with_them():
    class Reviewed(states.Success):
        def __init__(self, *args: Any, reviewer: str = "nobody", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.reviewer = reviewer

    state = Reviewed("ok", 1, reviewer="ada")
    assert (state.reviewer, state.result(), state.is_successful()) == ("ada", 1, True)
    with pytest.raises(AttributeError, match=r"state\.evolve\(reviewer=\.\.\.\)"):
        state.reviewer = "bob"
    with pytest.raises(AttributeError, match=r"'colour' is not a field; fields: message, result"):
        state.colour = "red"
    with pytest.raises(AttributeError, match=r"Cannot delete 'reviewer' of a Reviewed state"):
        del state.reviewer
    changed = state.evolve(reviewer="bob", message="re-reviewed")
    assert (changed.reviewer, changed.message, state.reviewer) == ("bob", "re-reviewed", "ada")
    assert state.with_result(2).reviewer == "ada"
    assert state.recast(Reviewed).reviewer == "ada"
    restored = pickle.loads(cloudpickle.dumps(state))  # a local class travels by value
    assert (type(restored).__name__, restored.reviewer, restored.result()) == ("Reviewed", "ada", 1)
    with pytest.raises(AttributeError, match="states are values"):
        restored.reviewer = "bob"


@pytest.mark.usefixtures("collect_subclasses")
def test_a_subclass_with_slots_and_a_subclass_of_it_keep_their_attributes():
    class Tagged(states.Failed):
        __slots__ = ("tag",)

        def __init__(self, *args: Any, tag: str = "", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tag = tag

    class Labelled(Tagged):
        def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.label = label

    state = Labelled("boom", ValueError("x"), tag="db", label="nightly")
    assert (state.tag, state.label) == ("db", "nightly")
    for copied in (state.evolve(message="again"), pickle.loads(cloudpickle.dumps(state))):
        assert (copied.tag, copied.label) == ("db", "nightly")
    with pytest.raises(AttributeError, match="states are values"):
        state.tag = "other"


@pytest.mark.usefixtures("collect_subclasses")
def test_a_subclass_init_cannot_write_a_state_field_directly():
    class Sneaky(states.Success):
        def __init__(self) -> None:
            super().__init__("first")
            self.message = "second"

    with pytest.raises(AttributeError, match=r"state\.evolve\(message=\.\.\.\)"):
        Sneaky()


@pytest.mark.usefixtures("collect_subclasses")
def test_a_subclass_without_its_own_init_works_as_its_parent():
    class Quiet(states.Skipped):
        pass

    state = Quiet("skipped on purpose")
    assert (state.name, state.is_skipped(), state.evolve(message="m").message) == (
        "Quiet",
        True,
        "m",
    )


# ---- the public path ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "ALL_STATE_CLASSES", "FAILED", "FINISHED", "PENDING_KINDS", "SCHEDULED_KINDS",
        "SUCCESSFUL", "DeferredResult", "K", "StateKind", "StateType",
        *(cls.__name__ for cls in ALL_CLASSES),
    ],
)  # fmt: skip
def test_every_name_importable_before_the_split_still_is(name):
    assert hasattr(states, name)
