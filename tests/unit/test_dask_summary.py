"""Task-run summaries a worker sends (``taskrun.dask.records``): pure, no cluster.

A summary carries the state's kind, message and timings, the result's mapping shape
and size, and the result itself only when it pickles small enough. On the wire a
summary is plain msgpack data in a sealed event (``taskrun.dask.sealing``); the state
built from it unpickles nothing until its result is read.
"""

from __future__ import annotations

import datetime as dt
import hmac
import pickle
import threading

import msgpack
import pytest

from taskrun.dask import record_states
from taskrun.dask import records as summary
from taskrun.dask.pickled import InlineResult, LazyInputs, ResultNotLoadableError
from taskrun.dask.sealing import (
    MalformedEventError,
    UnsignedEventError,
    new_channel,
    open_sealed,
    seal,
)
from taskrun.errors import TriggerFailedError
from taskrun.states import Failed, Paused, Retrying, Success, TriggerFailed
from taskrun.wire import ResultShape


def roundtrip(state, limit: int = 1024):
    kept, record = summary.summarize("key-1", 3, "task-00000000-3", state, limit, 0.25)
    return (
        kept,
        record,
        record_states.state_from_record(
            record, remote=lambda r: ("on worker", r.nbytes), task_run="task-00000000-3"
        ),
    )


def test_a_small_result_travels_with_its_state() -> None:
    _, record, state = roundtrip(Success("ok", [1, 2, 3], run_count=2))
    assert type(state) is Success
    assert state.result() == [1, 2, 3]
    assert (state.message, state.run_count) == ("ok", 2)
    assert record_states.shape_from_record(record) == ResultShape(True, 3)
    assert record.elapsed == 0.25
    assert record.result_type == "list"


def test_a_big_result_stays_on_the_worker_with_its_size_and_shape_known() -> None:
    _, record, state = roundtrip(Success("ok", list(range(1000))), limit=100)
    assert summary.has_result_on_worker(record)
    assert state.data[0] == "on worker"
    assert state.data[1] >= 1000
    assert record_states.shape_from_record(record) == ResultShape(True, 1000)


def test_a_failure_travels_with_its_exception_and_worker_traceback() -> None:
    try:
        raise ValueError("bad row")
    except ValueError as err:
        error = err
    _, record, _ = roundtrip(Failed("Task run encountered an exception.", error))
    record = summary.attach_traceback(record, error)
    state = record_states.state_from_record(record, task_run="task-00000000-3")
    held = state._result
    assert isinstance(held, InlineResult)
    assert not held.is_loaded  # nothing unpickled yet
    assert (held.type_name, held.text) == ("ValueError", "bad row")
    assert "raise ValueError" in (held.traceback or "")
    with pytest.raises(ValueError, match="bad row") as raised:
        state.result()
    assert "Traceback on the Dask worker" in raised.value.__notes__[0]
    assert record_states.shape_from_record(record) == ResultShape(False)


def test_an_unpicklable_result_fails_the_run_naming_it() -> None:
    kept, _, state = roundtrip(Success("ok", threading.Lock()))
    assert kept.is_failed()
    assert state.is_failed()
    assert "Task run 'task-00000000-3' returned a lock that cannot be pickled" in state.message


def test_subclasses_names_and_paused_inputs_survive() -> None:
    _, _, trigger = roundtrip(TriggerFailed("no", TriggerFailedError("t", "upstream failed")))
    assert type(trigger) is TriggerFailed
    assert trigger._result.reason == "upstream failed"  # known without unpickling
    _, _, named = roundtrip(Success(None, 5, name="Completed"))
    assert named.name == "Completed"
    _, _, paused = roundtrip(Paused("waiting", cached_inputs={"x": 1}))
    assert isinstance(paused.cached_inputs, LazyInputs)
    assert paused.cached_inputs == {"x": 1}
    assert dict(paused.cached_inputs) == {"x": 1}


def test_start_times_travel_as_posix_seconds() -> None:
    due = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    _, record, state = roundtrip(Retrying("soon", start_time=due, run_count=1))
    assert record.extras == {"start_time": due.timestamp()}
    assert state.start_time == due


def test_a_result_that_cannot_be_unpickled_fails_only_its_reader_naming_the_run() -> None:
    _, record, _ = roundtrip(Success("ok", [1]))
    broken = record._replace(result_blob=b"\x80\x05not a pickle")
    state = record_states.state_from_record(broken, task_run="make-1f2e3d4c")
    assert state.is_successful()  # the state itself is whole
    with pytest.raises(ResultNotLoadableError, match=r"Task run 'make-1f2e3d4c': its result"):
        state.result()


def test_running_and_retrying_records_name_the_run() -> None:
    assert summary.running("k", 0) == ("r", "k", 0)
    assert summary.retrying("k", None, "again", 1.5, 2) == ("y", "k", None, "again", 1.5, 2)
    assert summary.retrying("k", None, "again", 1.5, 2).delay == 1.5


# ---- the wire: sealed msgpack out, named records in --------------------------------------------
def every_record_kind() -> list[tuple[object, ...]]:
    _, final = summary.summarize("key-1", 3, "task-00000000-3", Success("ok", [1, 2]), 1024, 0.5)
    log = summary.ForwardedLog("l", "orchestrator.Task: t", 20, "hello", 1.5, "t-0", None, "w-1")
    return [summary.running("key-1", 3), summary.retrying("key-1", 3, "soon", 2.0, 1), final, log]


def test_records_travel_as_sealed_msgpack_and_are_named_again() -> None:
    channel = new_channel("orchestrator-test")
    sent = every_record_kind()
    sealed = seal(channel.secret, "tcp://w:1", sent)
    assert set(sealed) == {"packed", "sig"}
    for name in ("RunningRecord", "FinalRecord", "pickle", "taskrun"):
        assert name.encode() not in sealed["packed"]  # no class reference: plain data
    worker, arrived = open_sealed(sealed, channel.secret)
    assert worker == "tcp://w:1"
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
    assert record_states.state_from_record(final).result() == [1, 2]


def test_an_event_not_signed_with_the_runs_secret_is_refused_before_it_is_read() -> None:
    channel = new_channel("orchestrator-test")
    sealed = seal(channel.secret, "tcp://w:1", every_record_kind())
    other = new_channel("orchestrator-test")  # same topic, another secret
    forged = [
        seal(other.secret, "tcp://w:1", every_record_kind()),
        {**sealed, "sig": bytes(32)},
        {"packed": sealed["packed"]},
        {"packed": pickle.dumps([("f", "key-1")]), "worker": "tcp://w:1"},
        {"records": [list(summary.running("key-1", 3))]},
        b"\x00garbage",
        None,
    ]
    for message in forged:
        with pytest.raises(UnsignedEventError):
            open_sealed(message, channel.secret)


def test_a_signed_payload_that_is_not_records_is_refused() -> None:
    channel = new_channel("orchestrator-test")
    for payload in (b"\xc1", msgpack.packb([1, 2, 3]), msgpack.packb({"a": 1})):
        message = {"packed": payload, "sig": hmac.new(channel.secret, payload, "sha256").digest()}
        with pytest.raises(MalformedEventError):
            open_sealed(message, channel.secret)


def test_records_survive_msgpack_as_arrays_and_are_named_again() -> None:
    for record in every_record_kind():
        raw = msgpack.unpackb(msgpack.packb(record, use_bin_type=True), raw=False)
        assert type(raw) is list
        again = summary.named(raw)
        assert type(again) is type(record)
        assert again == record


def test_a_record_of_an_unknown_kind_or_the_wrong_shape_is_not_named() -> None:
    assert summary.named(("z", "key-1", 0)) is None
    assert summary.named(("r", "key-1")) is None  # too short
    assert summary.named(("r", "key-1", "0")) is None  # position not an int
    assert summary.named(("r", "key-1", True)) is None  # a bool is no position
    assert summary.named(()) is None
    assert summary.named("r") is None  # type: ignore[arg-type]
    _, final = summary.summarize("k", None, "t-0", Success("ok", 1), 1024, 0.0)
    assert summary.named(final._replace(result_blob="text")) is None
    assert summary.named(final._replace(extras=[1])) is None
