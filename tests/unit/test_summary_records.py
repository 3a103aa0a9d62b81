"""The journal's record of a Dask summary, read without building the state.

``summary_record`` is what the journal writes for each Dask task run (100,000 of them for a
100,000-child map); it must say exactly what ``state_record`` says of the state the same
summary becomes in this process. Summaries here are made by the workers' own ``summarize``
from real states.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.journal.records import TEXT_LIMIT, StateRecord, state_record
from orchestrator.task_runners.dask.handles import DaskResult
from orchestrator.task_runners.dask.summary_records import summary_record
from taskrun.dask.record_states import state_from_record
from taskrun.dask.records import FinalRecord, summarize
from taskrun.states import Cancelled, Failed, Paused, State, Success, TriggerFailed


def _remote(record: FinalRecord) -> DaskResult:
    def never(_: DaskResult) -> Any:
        raise AssertionError("a journal record must not fetch a result")

    return DaskResult(never, None, record.position, "add-1", record.nbytes, record.result_type)


def _summary(state: State, inline_limit: int = 1 << 20) -> FinalRecord:
    return summarize("add-abc-1", 3, "add-1", state, inline_limit, 0.001)[1]


def _assert_same(record: FinalRecord) -> StateRecord:
    expected = state_record(state_from_record(record, _remote, "add-1"))
    got = summary_record(record)
    times = ("timestamp", "start_time", "duration")
    for field in StateRecord._fields:
        want, have = getattr(expected, field), getattr(got, field)
        if field in times and want is not None:  # a state's datetime keeps microseconds
            assert have == pytest.approx(want, abs=2e-6), field
        else:
            assert have == want, field
    return got


@pytest.mark.parametrize(
    "state",
    [
        Success("done", result=5),
        Success("big", result=list(range(1000))),
        Success("nothing"),
        Failed("boom", ValueError("bad row")),
        Failed("no error held"),
        TriggerFailed("upstream failed", RuntimeError("trigger")),
        Cancelled("stopped"),
        Paused("waiting for approval"),
        Success("x" * (TEXT_LIMIT + 50), result="long message"),
    ],
    ids=lambda state: f"{type(state).__name__}-{str(state.message)[:12]}",
)
def test_a_summary_gives_the_record_its_state_gives(state: State) -> None:
    record = _assert_same(_summary(state, inline_limit=100))
    assert record.kind == type(state).__name__


def test_a_result_left_on_the_worker_keeps_its_location_and_type() -> None:
    record = _summary(Success("big", result=list(range(1000))), inline_limit=100)
    assert record.result_blob == b""  # stayed on the worker
    cases = [({"location": "/results/add-1.pkl"}, "/results/add-1.pkl"), ({"location": 7}, None)]
    for extras, location in [*cases, (None, None)]:
        got = _assert_same(record._replace(extras=extras))
        assert got.result_location == location
        assert got.kind == "Success"
        assert got.error is None


def test_an_inline_result_keeps_its_location_and_an_absent_one_has_none() -> None:
    inline = _summary(Success("done", result=5))
    assert _assert_same(inline._replace(extras={"location": "memory://r/1"})).result_location
    empty = _summary(Success("nothing"))
    assert empty.result_blob is None
    assert _assert_same(empty._replace(extras={"location": "memory://r/2"})).result_location is None


def test_errors_are_named_by_type_and_text_even_without_text() -> None:
    failed = _summary(Failed("boom", KeyError("row 7")))
    assert _assert_same(failed).error == "KeyError: 'row 7'"
    bare = failed._replace(extras=None)
    assert _assert_same(bare).error == "KeyError"
    on_worker = failed._replace(result_blob=b"", extras=None)
    assert _assert_same(on_worker).error == "KeyError"


def test_a_state_class_this_version_lacks_is_recorded_as_its_base() -> None:
    record = _summary(Success("done", result=1))._replace(state_class="FromTheFuture")
    assert _assert_same(record).kind == "State"
