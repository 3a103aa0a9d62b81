"""Final states sent through the scheduler as one list: packed as columns when plain, and
read back field for field; task-run names as runs."""

from __future__ import annotations

import pickle

from taskrun.dask.given_states import GivenStates
from taskrun.dask.pickled import InlineResult
from taskrun.name_runs import compact_names
from taskrun.states import Failed, Retrying, Success, TriggerFailed


def _children(n: int) -> list[Success]:
    return [
        Success("Task run succeeded.", InlineResult(pickle.dumps(i), "int", f"add-1f2e3d4c-{i}"),
                run_count=1, duration=0.001 * i)
        for i in range(n)
    ]  # fmt: skip


def test_plain_final_states_travel_packed_and_come_back_field_for_field() -> None:
    states = [*_children(1000), TriggerFailed("upstream failed"), Success(name="Completed")]
    again = pickle.loads(pickle.dumps(GivenStates(states)))
    assert type(again) is GivenStates
    assert [type(s) for s in again] == [type(s) for s in states]
    for sent, got in zip(states, again, strict=True):
        assert (got.message, got.name, got.run_count, got.duration, got.timestamp) == (
            sent.message, sent.name, sent.run_count, sent.duration, sent.timestamp,
        )  # fmt: skip
    assert again[999]._result.task_run == "add-1f2e3d4c-999"  # named, before it is read
    assert [s.result() for s in again[:1000]] == list(range(1000))
    assert again[1000].result() is None


def test_packed_states_cost_a_fraction_of_pickling_them_one_by_one() -> None:
    states = _children(10_000)
    packed = len(pickle.dumps(GivenStates(states)))
    one_by_one = len(pickle.dumps(list(states)))
    assert packed < 0.6 * one_by_one, (packed, one_by_one)  # about 47 against 93 bytes a state


def test_a_state_that_does_not_pack_sends_the_list_as_it_is() -> None:
    error = ValueError("boom")
    states = [*_children(3), Failed("boom", error), Retrying(run_count=2)]
    again = pickle.loads(pickle.dumps(GivenStates(states)))
    assert [type(s) for s in again] == [Success, Success, Success, Failed, Retrying]
    assert isinstance(again[3].read_result(False), ValueError)  # the error travels as itself


def test_names_of_a_map_are_one_run_and_other_names_stay_as_they_are() -> None:
    names = [f"add-1f2e3d4c-{i}" for i in range(100_000)] + ["total-00000000", "x-007", "x-8"]
    runs = compact_names(names)
    assert len(runs.runs) == 4  # the map, a name with no number, a zero-padded one, x-8
    assert list(runs) == names
    assert runs[100_001] == "x-007"
    assert runs[-1] == "x-8"
    assert len(runs) == len(names)
    assert pickle.loads(pickle.dumps(runs)) == names
    assert len(pickle.dumps(runs)) < 500
