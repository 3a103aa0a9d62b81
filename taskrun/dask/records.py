"""Summaries: the small records a worker sends so the orchestrator knows a task run's state.

The orchestrator never pulls results to learn states. A worker reports each task run
with a few msgpack-able fields (the record formats below); the orchestrator turns a
final record back into a state of the right class. A result travels inside the record
only when it pickles to at most the run's ``inline_limit`` bytes; a bigger one stays
in worker memory, and the orchestrator's state gets a placeholder it can fetch on demand.

    running   ["r", key, position]
    retrying  ["y", key, position, message, delay_seconds, run_count]
    final     ["f", key, position, class, name, message, duration, run_count, timestamp,
               length, problem, nbytes, result_blob, extras_blob, elapsed, result_type]

``length``/``problem`` are the mapping shape (``wire.ResultShape``); ``nbytes`` the
result's size estimate; ``elapsed`` the seconds the run took on the worker, executor
included (what batch sizing measures). Pure: no Dask here.
"""

from __future__ import annotations

import datetime as _dt
import pickle
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import cloudpickle

from taskrun import states as _states
from taskrun.wire import ResultShape, shape_of

RUNNING, RETRYING, FINAL = "r", "y", "f"

#: result_blob of a result that stayed on the worker (None: the state holds no result)
ON_WORKER = b""

_CLASSES: dict[str, type[_states.State]] = {c.__name__: c for c in _states.ALL_STATE_CLASSES}


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


def running(key: str, position: int | None) -> list[Any]:
    return [RUNNING, key, position]


def retrying(
    key: str, position: int | None, message: str | None, delay: float, run_count: int
) -> list[Any]:
    return [RETRYING, key, position, message, delay, run_count]


def summarize(
    key: str,
    position: int | None,
    name: str,
    state: _states.State,
    inline_limit: int,
    elapsed: float,
    sizeof: Callable[[Any], int] = sys.getsizeof,
) -> tuple[_states.State, list[Any]]:
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
    record = [
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
    ]
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


def has_result_on_worker(record: Sequence[Any]) -> bool:
    """Whether the result stayed on the worker (picklable but over the inline limit)."""
    return bool(record[12] == ON_WORKER)


def state_from_record(
    record: Sequence[Any], remote: Callable[[Sequence[Any]], Any] | None = None
) -> _states.State:
    """The state a final record describes; ``remote(record)`` gives the placeholder of a
    result that stayed on the worker."""
    cls = _CLASSES.get(record[3], _states.State)
    blob = record[12]
    if blob == ON_WORKER:
        result = remote(record) if remote is not None else None
    else:
        result = loads(blob) if blob is not None else None
    state = cls(
        record[5],
        result,
        name=record[4],
        run_count=record[7],
        duration=record[6],
        timestamp=_dt.datetime.fromtimestamp(record[8], _dt.UTC),
    )
    if record[13] is not None:
        extras = loads(record[13])
        state.cached_inputs = extras.get("cached_inputs")
        state.start_time = extras.get("start_time")
        if extras.get("traceback") and isinstance(result, BaseException):
            result.add_note(f"Traceback on the Dask worker:\n{extras['traceback']}")
    return state


def attach_traceback(record: list[Any], error: BaseException) -> None:
    """Add the worker-side traceback of ``error`` to a final record (exceptions travel
    without their traceback objects)."""
    if error.__traceback__ is None:
        return
    extras = loads(record[13]) if record[13] is not None else {}
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    extras["traceback"] = "".join(lines)[-20_000:]
    record[13] = dumps(extras)


def shape_from_record(record: Sequence[Any]) -> ResultShape:
    """The ``ResultShape`` of a final record (unflattened only; flattened needs the data)."""
    cls = _CLASSES.get(record[3], _states.State)
    if cls.kind not in _states.SUCCESSFUL:
        return ResultShape(False)
    return ResultShape(True, record[9], record[10])
