"""Summaries: the small records a worker sends so the orchestrator knows a task run's state.

The orchestrator never pulls results to learn states. A worker reports each task run
with a few msgpack-able fields (the record formats below); the orchestrator turns a
final record back into a state of the right class. A result travels inside the record
only when it pickles to at most the run's ``inline_limit`` bytes; a bigger one stays
in worker memory, and the orchestrator's state gets a placeholder it can fetch on demand.

    RunningRecord   ("r", key, position)
    RetryingRecord  ("y", key, position, message, delay, run_count)
    FinalRecord     ("f", key, position, state_class, name, message, duration, run_count,
                     timestamp, length, problem, nbytes, result_blob, extras_blob, elapsed,
                     result_type)
    ForwardedLog    ("l", logger, levelno, message, created, task_run_name, exc_text, thread)

Each record is a ``NamedTuple``: built and read by field name, yet a plain tuple of
atomic values on the wire. Pickle (``outbox.pack``) and msgpack carry no class, so the
receiving side names a record again with ``named(raw)``: the kind tag, field 0 of every
record, picks the class. Pure: no Dask here.
"""

from __future__ import annotations

import datetime as _dt
import pickle
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeAlias

import cloudpickle

from taskrun import states as _states
from taskrun.wire import ResultShape, shape_of

RUNNING, RETRYING, FINAL, LOG = "r", "y", "f", "l"

#: result_blob of a result that stayed on the worker (None: the state holds no result)
ON_WORKER = b""

_CLASSES: dict[str, type[_states.State]] = {c.__name__: c for c in _states.ALL_STATE_CLASSES}


class RunningRecord(NamedTuple):
    """A task run started on a worker (or again, after a retry delay)."""

    #: ``RUNNING``
    kind: str
    #: the Dask key of the Dask task that runs it
    key: str
    #: its place in a batch; None when the Dask task runs it alone
    position: int | None


class RetryingRecord(NamedTuple):
    """A task run waits for its next attempt."""

    #: ``RETRYING``
    kind: str
    key: str
    position: int | None
    message: str | None
    #: seconds until the next attempt
    delay: float
    run_count: int


class FinalRecord(NamedTuple):
    """A task run's final (or paused) state, its result inside when small enough."""

    #: ``FINAL``
    kind: str
    key: str
    position: int | None
    #: the state's class name (``Success``, ``TriggerFailed``, ...)
    state_class: str
    #: the state's display name (``Completed`` for a ``Success`` of the futures API)
    name: str
    message: str | None
    duration: float | None
    run_count: int
    #: the state's timestamp, in POSIX seconds
    timestamp: float
    #: the result's mapping shape (``wire.ResultShape``), for a successful state
    length: int | None
    problem: str | None
    #: the result's size estimate in bytes
    nbytes: int
    #: the pickled result (the error, for a failed state); ``ON_WORKER`` when it stayed on
    #: the worker; None when the state holds no result
    result_blob: bytes | None
    #: a pickled dict of what else the state carries (``cached_inputs``, ``start_time``,
    #: the worker-side ``traceback``); None when nothing
    extras_blob: bytes | None
    #: seconds the run took on the worker, executor included (what batch sizing measures)
    elapsed: float
    #: the result's type name (shown for a result that stayed on the worker)
    result_type: str


class ForwardedLog(NamedTuple):
    """A log record emitted inside a task run on a worker (message already formatted)."""

    #: ``LOG``
    kind: str
    #: the logger's name
    logger: str
    levelno: int
    message: str
    #: ``logging.LogRecord.created``
    created: float
    task_run_name: str | None
    exc_text: str | None
    thread: str | None


WireRecord: TypeAlias = RunningRecord | RetryingRecord | FinalRecord | ForwardedLog

_BY_KIND: dict[str, type[WireRecord]] = {
    RUNNING: RunningRecord,
    RETRYING: RetryingRecord,
    FINAL: FinalRecord,
    LOG: ForwardedLog,
}


def named(raw: Sequence[Any]) -> WireRecord | None:
    """The record ``raw`` (a plain tuple or list, as pickle or msgpack deliver it) with its
    fields named again; None for a kind this process does not know."""
    cls = _BY_KIND.get(raw[0])  # the kind tag: field 0 of every record
    return None if cls is None else cls._make(raw)


class UnpicklableResultError(TypeError):
    """A task returned (or failed with) a value that cannot be pickled."""

    def __init__(self, task_run: str, value_type: str, problem: str) -> None:
        super().__init__(task_run, value_type, problem)
        self.task_run, self.value_type, self.problem = task_run, value_type, problem

    def __str__(self) -> str:
        return (
            f"Task run {self.task_run!r} returned a {self.value_type} that cannot be pickled "
            f"({self.problem}). On Dask, results must be picklable to move between workers "
            "and back to the orchestrator; return plain data, or write the object to storage "
            "and return its location."
        )


def dumps(value: Any) -> bytes:
    """Pickle ``value`` (plain pickle, falling back to cloudpickle for lambdas and such)."""
    try:
        return pickle.dumps(value, protocol=5)
    except Exception:  # any pickling failure: retry with cloudpickle
        data: bytes = cloudpickle.dumps(value, protocol=5)
        return data


def loads(blob: bytes) -> Any:
    return pickle.loads(blob)


def running(key: str, position: int | None) -> RunningRecord:
    return RunningRecord(RUNNING, key, position)


def retrying(
    key: str, position: int | None, message: str | None, delay: float, run_count: int
) -> RetryingRecord:
    return RetryingRecord(RETRYING, key, position, message, delay, run_count)


def summarize(
    key: str,
    position: int | None,
    name: str,
    state: _states.State,
    inline_limit: int,
    elapsed: float,
    sizeof: Callable[[Any], int] = sys.getsizeof,
) -> tuple[_states.State, FinalRecord]:
    """The final record of ``state``, and the state to keep: ``Failed`` when its result
    cannot pickle (it could travel nowhere)."""
    value = state.data
    nbytes = 0 if value is None else _size(value, sizeof)
    blob: bytes | None = None
    if value is not None and state.is_failed():
        blob = _error_blob(value)
    elif value is not None and nbytes > inline_limit:
        blob = ON_WORKER
    elif value is not None:
        try:
            blob = dumps(value)
        except Exception as err:  # user objects may refuse pickling in any way
            problem = f"{type(err).__name__}: {err}"
            error = UnpicklableResultError(name, type(value).__name__, problem)
            state = _states.Failed(str(error), error)
            blob = dumps(error)
        else:
            blob = blob if len(blob) <= inline_limit else ON_WORKER
    extras = None
    if state.cached_inputs is not None or state.start_time is not None:
        try:
            extras = dumps({"cached_inputs": state.cached_inputs, "start_time": state.start_time})
        except Exception:  # inputs of a paused run that cannot travel
            extras = None
    shape = shape_of(state) if state.is_successful() else None
    # positional, in field order: a third of the keyword call's cost, once per task run
    record = FinalRecord(
        FINAL,
        key,
        position,
        type(state).__name__,
        state.name,
        state.message,
        state.duration,
        state.run_count,
        state.timestamp.timestamp(),
        shape.length if shape is not None else None,
        shape.problem if shape is not None else None,
        nbytes,
        blob,
        extras,
        elapsed,
        type(value).__name__,
    )
    return state, record


def _error_blob(error: Any) -> bytes:
    try:
        return dumps(error)
    except Exception:  # an exception that cannot travel: send its text
        return dumps(RuntimeError(f"{type(error).__name__}: {error}"))


def _size(value: Any, sizeof: Callable[[Any], int]) -> int:
    try:
        return int(sizeof(value))
    except Exception:  # a size estimate must never fail a run
        return sys.getsizeof(value, 0)


def has_result_on_worker(record: FinalRecord) -> bool:
    """Whether the result stayed on the worker (picklable but over the inline limit)."""
    return record.result_blob == ON_WORKER


def state_from_record(
    record: FinalRecord, remote: Callable[[FinalRecord], Any] | None = None
) -> _states.State:
    """The state a final record describes; ``remote(record)`` gives the placeholder of a
    result that stayed on the worker."""
    cls = _CLASSES.get(record.state_class, _states.State)
    blob = record.result_blob
    if blob == ON_WORKER:
        result = remote(record) if remote is not None else None
    else:
        result = loads(blob) if blob is not None else None
    extras = loads(record.extras_blob) if record.extras_blob is not None else {}
    if extras.get("traceback") and isinstance(result, BaseException):
        result.add_note(f"Traceback on the Dask worker:\n{extras['traceback']}")
    return cls(
        record.message,
        result,
        name=record.name,
        run_count=record.run_count,
        duration=record.duration,
        timestamp=_dt.datetime.fromtimestamp(record.timestamp, _dt.UTC),
        start_time=extras.get("start_time"),
        cached_inputs=extras.get("cached_inputs"),
    )


def attach_traceback(record: FinalRecord, error: BaseException) -> FinalRecord:
    """``record`` with the worker-side traceback of ``error`` added (exceptions travel
    without their traceback objects); ``record`` itself when ``error`` has none."""
    if error.__traceback__ is None:
        return record
    extras = loads(record.extras_blob) if record.extras_blob is not None else {}
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    extras["traceback"] = "".join(lines)[-20_000:]
    return record._replace(extras_blob=dumps(extras))


def shape_from_record(record: FinalRecord) -> ResultShape:
    """The ``ResultShape`` of a final record (unflattened only; flattened needs the data)."""
    cls = _CLASSES.get(record.state_class, _states.State)
    if cls.kind not in _states.SUCCESSFUL:
        return ResultShape(False)
    return ResultShape(True, record.length, record.problem)
