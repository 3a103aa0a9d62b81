"""What the run journal keeps: small records of states, packed as msgpack.

A record holds metadata only, never a result or a pickle: the state's class name
(its kind, e.g. ``Success``, ``TriggerFailed``), message, times, run count and, for
a result persisted where it can be read again, its location. Flow runs add their
name and a summary of their parameters (values msgpack can hold as they are; any
other value as a short ``repr``, so nothing user-defined is ever unpickled from the
journal).

    StateRecord  kind message timestamp start_time duration run_count result_location error
    packed       msgpack array [message, timestamp, start_time, duration, run_count,
                                result_location, error]   (the kind is a column of its own)

An array, not a map: a 100,000-child map packs 100,000 of them, and the array takes half
the time. Fields are only ever appended, so an older reader takes the ones it knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import msgpack

from taskrun.gc_pause import gc_paused
from taskrun.results.stored import result_location
from taskrun.state_fresh import stamp_seconds
from taskrun.states import DeferredResult, State

_packb = msgpack.packb

#: longest message and parameter text kept (a traceback-sized message is cut)
TEXT_LIMIT = 2000


class StateRecord(NamedTuple):
    """One state as the journal keeps it."""

    #: the state's class name: ``Success``, ``Failed``, ``Mapped``, ``Cancelled``, ...
    kind: str
    message: str | None
    #: POSIX seconds when the state was made
    timestamp: float
    #: POSIX seconds when the run's body started (timestamp - duration), if known
    start_time: float | None = None
    #: seconds the run took, if known
    duration: float | None = None
    #: attempts made (0 when the state does not say)
    run_count: int = 0
    #: where a persisted result can be read back (results issue), else None
    result_location: str | None = None
    #: a failed state's exception as text (``ValueError: bad row``), never the exception
    error: str | None = None


class TaskRunRecord(NamedTuple):
    """The final state of one task run of a flow run."""

    #: the task's name (mapped children share it)
    task_name: str
    #: the task-run name, unique in the flow run (``add-1f2e3d4c-17``)
    run_name: str
    map_index: int | None
    state: StateRecord


class FlowRunRecord(NamedTuple):
    """One flow run as ``orchestrator runs`` lists it."""

    id: str
    flow_name: str
    run_name: str
    state: StateRecord
    #: POSIX seconds of the run's start, and of its end (None while it runs)
    started: float
    ended: float | None
    #: the parameter summary (see ``summarise_parameters``)
    parameters: dict[str, Any]
    #: task-run counts by state kind
    counts: dict[str, int]
    #: the process that ran it: ``host:pid``
    runner: str = ""
    #: 1 for the first attempt; a resumed run (same id) counts up
    attempt: int = 1
    #: the flow file ``orchestrator run`` ran (``/abs/path.py[:VARIABLE]``), else None
    source: str | None = None


def state_record(state: State) -> StateRecord:
    """The journal's record of ``state`` (reads no result, loads nothing)."""
    stamp, duration = stamp_seconds(state), state.duration
    message = state.message
    return StateRecord(
        type(state).__name__,
        message if message is None or len(message) <= TEXT_LIMIT else cut_text(message),
        stamp,
        stamp - duration if duration is not None else None,
        duration,
        state.run_count,
        result_location(state),
        error_text(state) if state.is_failed() else None,
    )


def error_text(state: State) -> str | None:
    """``Type: message`` of the exception a failed state holds, read without unpickling
    it (a result still pickled on a Dask worker says its type and text)."""
    error = state._result  # as stored: ``data`` would load it
    if isinstance(error, DeferredResult):
        if error.text is None:
            return None if error.type_name == "object" else error.type_name
        return cut_text(f"{error.type_name}: {error.text}")
    if isinstance(error, BaseException):
        return cut_text(f"{type(error).__name__}: {error}")
    return None


def pack_state(record: StateRecord) -> bytes:
    """Everything but the kind, as a msgpack array in ``StateRecord`` order."""
    packed: bytes = _packb(record[1:], use_bin_type=True)
    return packed


def unpack_state(kind: str, packed: bytes) -> StateRecord:
    """The record ``pack_state`` packed; fields a newer writer appended are ignored."""
    fields = list(msgpack.unpackb(packed, raw=False))[: len(StateRecord._fields) - 1]
    fields += [None] * (len(StateRecord._fields) - 1 - len(fields))
    message, stamp, start, duration, count, location, error = fields
    return StateRecord(
        kind, message, float(stamp or 0.0), start, duration, int(count or 0), location, error
    )


def pack_task_runs(records: Sequence[TaskRunRecord]) -> bytes:
    """A batch of task-run records as one msgpack array of flat arrays:
    ``[task_name, run_name, map_index, kind, message, timestamp, ...]``."""
    with gc_paused():  # a tuple per record: 100,000 of them would set the collector off often
        rows = [(r.task_name, r.run_name, r.map_index, *r.state) for r in records]
    packed: bytes = _packb(rows, use_bin_type=True)
    return packed


def unpack_task_runs(packed: bytes) -> list[TaskRunRecord]:
    """The batch ``pack_task_runs`` packed (fields a newer writer appended are ignored)."""
    width = len(StateRecord._fields)
    records = []
    for task_name, run_name, map_index, *fields in msgpack.unpackb(packed, raw=False):
        fields = fields[:width] + [None] * (width - len(fields))
        kind, message, stamp, start, duration, count, location, error = fields
        state = StateRecord(
            kind, message, float(stamp or 0.0), start, duration, int(count or 0), location, error
        )
        records.append(TaskRunRecord(task_name, run_name, map_index, state))
    return records


def pack_counts(counts: Mapping[str, int]) -> bytes:
    packed: bytes = _packb(dict(counts), use_bin_type=True)
    return packed


def unpack_counts(packed: bytes | None) -> dict[str, int]:
    return dict(msgpack.unpackb(packed, raw=False)) if packed else {}


def call_number(run_name: str) -> int | None:
    """The number a task-run name ends with (``add-1f2e3d4c-17`` -> 17): the map index of
    a DAG run, the call count of an ``@flow`` one; None for a name without one."""
    number = run_name.rpartition("-")[2]
    return int(number) if number.isdigit() else None


def summarise_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the journal keeps them: msgpack-native values as they are, others
    as a short ``repr`` (never a pickle)."""
    return {str(name): _native(value) for name, value in parameters.items()}


def pack_parameters(parameters: Mapping[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(summarise_parameters(parameters), use_bin_type=True)
    return packed


def unpack_parameters(packed: bytes | None) -> dict[str, Any]:
    if not packed:
        return {}
    value = msgpack.unpackb(packed, raw=False, strict_map_key=False)
    return dict(value) if isinstance(value, dict) else {}


def _native(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value if not isinstance(value, int) or -(2**63) <= value < 2**64 else repr(value)
    if isinstance(value, str):
        return cut_text(value)
    if depth < 3 and isinstance(value, list | tuple) and len(value) <= 100:
        return [_native(item, depth + 1) for item in value]
    if depth < 3 and isinstance(value, Mapping) and len(value) <= 100:
        return {str(k): _native(v, depth + 1) for k, v in value.items()}
    return cut_text(repr(value))


def cut_text(text: str | None) -> str | None:
    """``text`` cut to ``TEXT_LIMIT`` characters (ending ``...`` when cut)."""
    if text is None or len(text) <= TEXT_LIMIT:
        return text
    return text[: TEXT_LIMIT - 3] + "..."
