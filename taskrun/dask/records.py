"""Summaries: the small records a worker sends so the orchestrator knows a task run's state.

The orchestrator never pulls results to learn states. A worker reports each task run
with a few msgpack-native fields (the record formats below); the orchestrator turns a
final record back into a state of the right class. A result travels inside the record
only when it pickles to at most the run's ``inline_limit`` bytes; a bigger one stays
in worker memory, and the orchestrator's state gets a placeholder it can fetch on demand.

    RunningRecord   ("r", key, position)
    RetryingRecord  ("y", key, position, message, delay, run_count)
    FinalRecord     ("f", key, position, state_class, name, message, duration, run_count,
                     timestamp, length, problem, nbytes, result_blob, extras, elapsed,
                     result_type)
    ForwardedLog    ("l", logger, levelno, message, created, task_run_name, exc_text, thread)

Each record is a ``NamedTuple``: built and read by field name, yet a plain tuple of
strings, numbers and bytes on the wire (``taskrun.dask.sealing`` packs them as msgpack,
which carries no class), so the receiving side names a record again with
``named(raw)``: the kind tag, field 0 of every record, picks the class, and a record
whose length or field types are wrong is refused there. The pickled result (the error,
for a failed state) and a paused run's cached inputs stay bytes on the orchestrator:
``record_states`` puts them in lazy holders (``taskrun.dask.pickled``) that unpickle
when a user reads them. Everything else in ``extras`` is msgpack-native (timestamps as
floats, text as str). Pure: no Dask here.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeAlias

from taskrun import states as _states
from taskrun.dask.pickled import InlineResult, LazyInputs, dumps_value
from taskrun.results.stored import StoredResult
from taskrun.state_fresh import stamp_seconds
from taskrun.wire import SCALAR_TYPES, shape_of

RUNNING, RETRYING, FINAL, LOG = "r", "y", "f", "l"

#: result_blob of a result that stayed on the worker (None: the state holds no result)
ON_WORKER = b""
#: longest text an exception's ``str()`` or traceback travels with
_TEXT_LIMIT = 20_000


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
    #: what else the state carries, msgpack-native: ``start_time`` (POSIX seconds),
    #: ``cached_inputs`` (pickled bytes), ``location`` (str: where a checkpointed or
    #: cached result is stored), and for an error its ``text``, ``reason`` and
    #: worker-side ``traceback`` (str); None when nothing
    extras: dict[str, Any] | None
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

_S, _I, _F, _B, _D, _N = str, int, float, bytes, dict, type(None)
#: the types each field of a record may have on the wire, by kind (exact types: a bool
#: is no int here)
_FIELD_TYPES: dict[str, tuple[frozenset[type], ...]] = {
    kind: tuple(frozenset(types) for types in fields)
    for kind, fields in {
        RUNNING: ((_S,), (_S,), (_I, _N)),
        RETRYING: ((_S,), (_S,), (_I, _N), (_S, _N), (_I, _F), (_I,)),
        FINAL: (
            (_S,), (_S,), (_I, _N), (_S,), (_S,), (_S, _N), (_I, _F, _N), (_I,), (_I, _F),
            (_I, _N), (_S, _N), (_I,), (_B, _N), (_D, _N), (_I, _F), (_S,),
        ),
        LOG: ((_S,), (_S,), (_I,), (_S,), (_I, _F), (_S, _N), (_S, _N), (_S, _N)),
    }.items()
}  # fmt: skip


def named(raw: Sequence[Any]) -> WireRecord | None:
    """The record ``raw`` (a plain tuple or list, as msgpack delivers it) with its fields
    named again; None for a kind this process does not know, or a record whose length or
    field types are not that kind's."""
    if (type(raw) is not tuple and type(raw) is not list) or not raw:
        return None
    kind = raw[0]
    types = _FIELD_TYPES.get(kind) if type(kind) is str else None
    if types is None or len(raw) != len(types):
        return None
    for value, allowed in zip(raw, types):  # noqa: B905 - lengths checked above
        if type(value) not in allowed:
            return None
    return _BY_KIND[kind]._make(raw)


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
    return dumps_value(value)[0]


def running(key: str, position: int | None) -> RunningRecord:
    return RunningRecord(RUNNING, key, position)


def retrying(
    key: str, position: int | None, message: str | None, delay: float, run_count: int
) -> RetryingRecord:
    return RetryingRecord(RETRYING, key, position, message, float(delay), run_count)


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
    value = state._result
    if isinstance(value, InlineResult):  # held on this worker, or a given state's, pickled
        try:
            value = value.load()
        except Exception as err:  # a given state's result that cannot be loaded here
            state, value = _states.Failed(str(err), err), err
    nbytes = 0 if value is None else _size(value, sizeof)
    blob: bytes | None = None
    if value is not None and state.is_failed():
        blob = _error_blob(value)
    elif value is not None and nbytes > inline_limit:
        blob = ON_WORKER
    elif value is not None and type(value) in SCALAR_TYPES:  # plain pickle cannot fail
        blob = _pickle_dumps(value, 5)
    elif value is not None:
        try:
            blob = dumps(value)
        except Exception as err:  # user objects may refuse pickling in any way
            problem = f"{type(err).__name__}: {err}"
            error = UnpicklableResultError(name, type(value).__name__, problem)
            state = _states.Failed(str(error), error)
            value = error
            blob = dumps(error)
        else:
            blob = blob if len(blob) <= inline_limit else ON_WORKER
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
        stamp_seconds(state),
        shape.length if shape is not None else None,
        shape.problem if shape is not None else None,
        nbytes,
        blob,
        _extras(state, value),
        elapsed,
        value.type_name if type(value) is StoredResult else type(value).__name__,
    )
    return state, record


_getsizeof = sys.getsizeof
_pickle_dumps = pickle.dumps


def _extras(state: _states.State, value: Any) -> dict[str, Any] | None:
    """The msgpack-native extras of a final record (None when there are none)."""
    start, cached = state.start_time, state.cached_inputs
    stored = type(value) is StoredResult
    if start is None and cached is None and not stored and not isinstance(value, BaseException):
        return None  # the usual case: once per task run
    extras: dict[str, Any] = {}
    if start is not None:
        extras["start_time"] = start.timestamp()
    if stored:
        extras["location"] = value.location
    if isinstance(cached, LazyInputs):
        extras["cached_inputs"] = cached.blob
    elif cached is not None:
        with contextlib.suppress(Exception):  # inputs of a paused run that cannot travel
            extras["cached_inputs"] = dumps(dict(cached))
    if isinstance(value, BaseException):
        extras.update(_error_facts(value))
    return extras or None


def _error_facts(error: BaseException) -> dict[str, str]:
    """What displays show of an error without loading it: its text and a trigger's reason."""
    facts: dict[str, str] = {}
    with contextlib.suppress(Exception):  # a user exception whose __str__ fails: no text
        facts["text"] = str(error)[:_TEXT_LIMIT]
        reason = getattr(error, "reason", None)
        if isinstance(reason, str):
            facts["reason"] = reason[:_TEXT_LIMIT]
    return facts


def _error_blob(error: Any) -> bytes:
    try:
        return dumps(error)
    except Exception:  # an exception that cannot travel: send its text
        return dumps(RuntimeError(f"{type(error).__name__}: {error}"))


def _size(value: Any, sizeof: Callable[[Any], int]) -> int:
    if type(value) in SCALAR_TYPES:  # what Dask's sizeof says of them, without its dispatch
        return _getsizeof(value)
    try:
        return int(sizeof(value))
    except Exception:  # a size estimate must never fail a run
        return sys.getsizeof(value, 0)


def has_result_on_worker(record: FinalRecord) -> bool:
    """Whether the result stayed on the worker (picklable but over the inline limit)."""
    return record.result_blob == ON_WORKER


def attach_traceback(record: FinalRecord, error: BaseException) -> FinalRecord:
    """``record`` with the worker-side traceback of ``error`` added as text (exceptions
    travel without their traceback objects); ``record`` itself when ``error`` has none."""
    if error.__traceback__ is None:
        return record
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    extras = {**(record.extras or {}), "traceback": "".join(lines)[-_TEXT_LIMIT:]}
    return record._replace(extras=extras)
