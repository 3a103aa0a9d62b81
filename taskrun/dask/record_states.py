"""Final records read back as states on the orchestrator, nothing unpickled.

A worker's ``FinalRecord`` (``taskrun.dask.records``) becomes a state of the class it
names: its pickled result (or error) and a paused run's cached inputs go into lazy holders
(``taskrun.dask.pickled``) that unpickle only when a user reads them; a result that stayed
on the worker gets the placeholder the caller gives. One state per task run summary, so
the usual one is built without the constructor's keyword parsing (``state_fresh``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any, cast

from taskrun import states as _states
from taskrun.dask.pickled import InlineResult, LazyInputs
from taskrun.dask.records import ON_WORKER, FinalRecord
from taskrun.state_fresh import fresh, plain_init
from taskrun.wire import ResultShape

_CLASSES: dict[str, type[_states.State]] = {c.__name__: c for c in _states.ALL_STATE_CLASSES}
#: the classes ``state_from_record`` builds with ``fresh`` (no constructor of their own)
_FRESH = frozenset(c for c in _CLASSES.values() if plain_init(c))


class LocatedResult(InlineResult):
    """A checkpointed or cached result as the orchestrator receives it: the pickled value
    and where it is stored (``result_location`` reads it; nothing is read from there)."""

    __slots__ = ("location",)

    location: str


def state_from_record(
    record: FinalRecord,
    remote: Callable[[FinalRecord], Any] | None = None,
    task_run: str = "?",
) -> _states.State:
    """The state a final record describes, nothing unpickled: its result (or error) and
    cached inputs in lazy holders naming ``task_run``; ``remote(record)`` gives the
    placeholder of a result that stayed on the worker."""
    cls = state_class(record.state_class)
    blob = record.result_blob
    extras = record.extras or {}
    result: Any
    location = extras.get("location")
    if blob == ON_WORKER:
        result = remote(record) if remote is not None else None
        if type(location) is str and hasattr(type(result), "location"):
            result.location = location  # a placeholder with room for it (DaskResult)
    elif blob is None:
        result = None
    else:
        holder = LocatedResult if type(location) is str else InlineResult
        if not extras:  # the usual case: a plain result, nothing to display without it
            result = holder(blob, record.result_type, task_run)
        else:
            result = holder(
                blob,
                record.result_type,
                task_run,
                text=_text(extras, "text"),
                traceback=_text(extras, "traceback"),
                reason=_text(extras, "reason"),
            )
        if type(location) is str:
            result.location = location
    start = extras.get("start_time")
    start = start if type(start) in (int, float) else None
    cached = extras.get("cached_inputs")
    inputs = cast("dict[str, Any]", LazyInputs(cached, task_run)) if type(cached) is bytes else None
    if start is None and cls in _FRESH:  # the usual case: once per task run
        stamp = float(record.timestamp)
        return fresh(cls, record.message, result, record.name, record.run_count, stamp,
                     record.duration, inputs)  # fmt: skip
    return cls(
        record.message,
        result,
        name=record.name,
        run_count=record.run_count,
        duration=record.duration,
        timestamp=_dt.datetime.fromtimestamp(record.timestamp, _dt.UTC),
        start_time=(_dt.datetime.fromtimestamp(start, _dt.UTC) if start is not None else None),
        cached_inputs=inputs,  # a Mapping read like a dict (``dict(state.cached_inputs)``)
    )


def state_class(name: str) -> type[_states.State]:
    """The state class a summary names (``State`` for a name this version lacks)."""
    return _CLASSES.get(name, _states.State)


def _text(extras: dict[str, Any], name: str) -> str | None:
    value = extras.get(name)
    return value if type(value) is str else None


def shape_from_record(record: FinalRecord) -> ResultShape:
    """The ``ResultShape`` of a final record (unflattened only; flattened needs the data)."""
    cls = state_class(record.state_class)
    if cls.kind not in _states.SUCCESSFUL:
        return ResultShape(False)
    return ResultShape(True, record.length, record.problem)
