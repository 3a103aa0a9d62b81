"""Task-run summaries a worker sends (``taskrun.dask.records``): pure, no cluster.

A summary carries the state's kind, message and timings, the result's mapping shape
and size, and the result itself only when it pickles small enough.
"""

from __future__ import annotations

import threading

import msgpack
import pytest

from taskrun.dask import records as summary
from taskrun.dask.outbox import pack, unpack
from taskrun.states import Failed, Paused, Success, TriggerFailed
from taskrun.wire import ResultShape


def roundtrip(state, limit: int = 1024):
    kept, record = summary.summarize("key-1", 3, "task-00000000-3", state, limit, 0.25)
    return kept, record, summary.state_from_record(record, remote=lambda r: ("on worker", r.nbytes))


def test_a_small_result_travels_with_its_state() -> None:
    _, record, state = roundtrip(Success("ok", [1, 2, 3], run_count=2))
    assert type(state) is Success
    assert state.result() == [1, 2, 3]
    assert (state.message, state.run_count) == ("ok", 2)
    assert summary.shape_from_record(record) == ResultShape(True, 3)
    assert record.elapsed == 0.25
    assert record.result_type == "list"


def test_a_big_result_stays_on_the_worker_with_its_size_and_shape_known() -> None:
    _, record, state = roundtrip(Success("ok", list(range(1000))), limit=100)
    assert summary.has_result_on_worker(record)
    assert state.data[0] == "on worker"
    assert state.data[1] >= 1000
    assert summary.shape_from_record(record) == ResultShape(True, 1000)


def test_a_failure_travels_with_its_exception_and_worker_traceback() -> None:
    try:
        raise ValueError("bad row")
    except ValueError as err:
        error = err
    _, record, _ = roundtrip(Failed("Task run encountered an exception.", error))
    record = summary.attach_traceback(record, error)
    state = summary.state_from_record(record)
    with pytest.raises(ValueError, match="bad row") as raised:
        state.result()
    assert "Traceback on the Dask worker" in raised.value.__notes__[0]
    assert summary.shape_from_record(record) == ResultShape(False)


def test_an_unpicklable_result_fails_the_run_naming_it() -> None:
    kept, _, state = roundtrip(Success("ok", threading.Lock()))
    assert kept.is_failed()
    assert state.is_failed()
    assert "Task run 'task-00000000-3' returned a lock that cannot be pickled" in state.message


def test_subclasses_names_and_paused_inputs_survive() -> None:
    _, _, trigger = roundtrip(TriggerFailed("no", ValueError("no")))
    assert type(trigger) is TriggerFailed
    _, _, named = roundtrip(Success(None, 5, name="Completed"))
    assert named.name == "Completed"
    _, _, paused = roundtrip(Paused("waiting", cached_inputs={"x": 1}))
    assert paused.cached_inputs == {"x": 1}


def test_running_and_retrying_records_name_the_run() -> None:
    assert summary.running("k", 0) == ("r", "k", 0)
    assert summary.retrying("k", None, "again", 1.5, 2) == ("y", "k", None, "again", 1.5, 2)
    assert summary.retrying("k", None, "again", 1.5, 2).delay == 1.5


# ---- the wire: plain tuples out, named records in ----------------------------------------------
def every_record_kind() -> list[tuple[object, ...]]:
    _, final = summary.summarize("key-1", 3, "task-00000000-3", Success("ok", [1, 2]), 1024, 0.5)
    log = summary.ForwardedLog("l", "orchestrator.Task: t", 20, "hello", 1.5, "t-0", None, "w-1")
    return [summary.running("key-1", 3), summary.retrying("key-1", 3, "soon", 2.0, 1), final, log]


def test_records_travel_pickled_as_plain_tuples_and_are_named_again() -> None:
    sent = every_record_kind()
    packed = pack(sent)
    for name in ("RunningRecord", "RetryingRecord", "FinalRecord", "ForwardedLog"):
        assert name.encode() not in packed  # no class reference: the receiver needs none
    arrived = unpack(packed)
    assert [type(raw) for raw in arrived] == [tuple] * len(sent)
    named = [summary.named(raw) for raw in arrived]
    assert [type(record) for record in named] == [type(record) for record in sent]
    assert named == sent
    final = named[2]
    assert isinstance(final, summary.FinalRecord)
    assert (final.key, final.position, final.state_class, final.elapsed) == (
        "key-1",
        3,
        "Success",
        0.5,
    )
    assert summary.state_from_record(final).result() == [1, 2]


def test_records_survive_msgpack_as_arrays_and_are_named_again() -> None:
    for record in every_record_kind():
        raw = msgpack.unpackb(msgpack.packb(record, use_bin_type=True), raw=False)
        assert type(raw) is list
        again = summary.named(raw)
        assert type(again) is type(record)
        assert again == record


def test_a_record_of_an_unknown_kind_is_not_named() -> None:
    assert summary.named(("z", "key-1", 0)) is None
