"""Persistence in a task run: targets, checkpoints and caches, as two executor hooks.

The executor (``taskrun.execute``) calls in here only for a task with a ``result``,
``target`` or ``cache_for`` (``is_persistent``), so other task runs pay nothing:

    check_cached   before the attempts: an existing target, or a cached entry the
                   task's validator accepts, ends the run ``Cached``; the body never runs
    checkpoint     after an attempt that succeeded: store the value (the task's result,
                   at its target or the result's location), keep it in the cache, and
                   hold it in the state as a ``StoredResult`` that records its location

Both run where the task runs (a Dask worker writes and reads its storage directly).
What they fail with is a ``Failed`` state naming the task and the location: a target
template naming a missing key (``TargetTemplateError``), an unwritable location
(``ResultWriteError``), a result that cannot be read back (``ResultReadError``).
Failures, skips and mapped parents are never checkpointed.

The cache key is the task's ``cache_key`` when given (shared by every task and flow that
names it; a mapped child adds ``[map_index]``), else the run's lineage key
(``taskrun.lineage``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import threading
from collections.abc import Hashable, Mapping
from typing import Any, Protocol

from taskrun import cache_store
from taskrun.cache_validators import duration_only
from taskrun.context import current
from taskrun.lineage import lineage_key
from taskrun.results.base import DEFAULT_LOCATION, Result
from taskrun.results.errors import (
    CacheValidatorError,
    ResultError,
    ResultReadError,
    ResultWriteError,
)
from taskrun.results.local import LocalResult
from taskrun.results.locations import format_location, location_keys
from taskrun.results.stored import StoredResult
from taskrun.states import Cached, Failed, State

#: the cache key of the task run this thread computed last: a run that misses its cache
#: computes it once, before its attempts, and reuses it when it checkpoints
_last_key = threading.local()
#: context keys a default location needs, when a task runs outside any flow
#: the options that make a task's runs read or write results
_PERSISTENT_OPTIONS = ("result", "target", "cache_for")
_LOCATION_DEFAULTS = {"flow_name": "no-flow", "task_slug": "task", "task_run_id": "run"}


class TaskRunLike(Protocol):
    """What the hooks read of the executor's task run."""

    task: Any
    label: str
    upstream_states: Mapping[Hashable, State]
    #: constant keyword arguments (values that are not tasks)
    inputs: Mapping[str, Any]

    def collect_inputs(self, state: State | None = None) -> dict[str, Any]: ...


def is_persistent(task: Any) -> bool:
    """Whether runs of ``task`` read or write results (the executor asks once per run)."""
    try:  # plain reads: a missing attribute's default costs more than the three reads
        return task.result is not None or task.target is not None or task.cache_for is not None
    except AttributeError:  # a task built without the options
        return any(getattr(task, name, None) is not None for name in _PERSISTENT_OPTIONS)


def result_of(task: Any) -> Result | None:
    """The result a task stores with: its own; a target without one gets a ``LocalResult``
    in the default directory; ``checkpoint=False`` stores nothing (targets still read)."""
    result: Result | None = getattr(task, "result", None)
    if result is None and getattr(task, "target", None) is not None:
        result = _default_result(os.environ.get("ORCHESTRATOR_HOME"))
    return result


@functools.lru_cache(maxsize=4)
def _default_result(home: str | None) -> Result:
    """The ``LocalResult`` of targets without a result (per ``$ORCHESTRATOR_HOME``)."""
    return LocalResult()


# ---- before the attempts ------------------------------------------------------------------
def check_cached(run: TaskRunLike, state: State) -> State | None:
    """``Cached`` when a target exists or a cached entry is valid; ``Failed`` when the check
    itself fails (a bad template, an unreadable result); None: run the task."""
    task, label, upstream_states, constants = run.task, run.label, run.upstream_states, run.inputs
    kwargs = run.collect_inputs(state)
    try:
        found = _existing_target(task, label, kwargs)
        if found is None and getattr(task, "cache_for", None) is not None:
            found = _valid_entry(task, label, upstream_states, constants, kwargs)
    except ResultError as err:
        return Failed(str(err), err)
    return found


def _existing_target(task: Any, label: str, kwargs: Mapping[str, Any]) -> State | None:
    target = getattr(task, "target", None)
    result = result_of(task)
    if target is None or result is None:
        return None
    location = format_location(target, _keys(kwargs), label)
    if not result.exists(location):
        return None
    where = result.path(location)
    value = _read(result, location, label)
    stored = StoredResult(result, where, value, key=where)
    return Cached(f"Task run found an existing target at {where!r}.", stored)


def _valid_entry(
    task: Any,
    label: str,
    upstream_states: Mapping[Hashable, State],
    constants: Mapping[str, Any],
    kwargs: Mapping[str, Any],
) -> State | None:
    key = _cache_key(task, upstream_states, constants)
    parameters = _parameters()
    validator = getattr(task, "cache_validator", None) or duration_only
    candidates = cache_store.entries(key)
    result = result_of(task)
    if cache_store.persists_index(result) and getattr(task, "checkpoint", None) is not False:
        persisted = cache_store.read_index(result, key)
        candidates += [persisted] if persisted is not None else []
    for entry in candidates:
        if _vanished(entry):  # its stored result was deleted: a miss, the task runs again
            continue
        try:
            valid = bool(validator(entry, kwargs, parameters))
        except Exception as err:  # a user's validator
            name = getattr(validator, "__name__", repr(validator))
            raise CacheValidatorError(label, name, repr(err)) from err
        if valid:
            return Cached(f"Task run found a valid cached result (cache key {key!r}).",
                          _loaded(entry, label))  # fmt: skip
    return None


def _vanished(entry: cache_store.CacheEntry) -> bool:
    value = entry.value
    if not isinstance(value, StoredResult) or value.held:
        return False
    return not value.result.exists(value.location)


def _loaded(entry: cache_store.CacheEntry, label: str) -> Any:
    """The entry's value, read here if it is only a stored reference."""
    value = entry.value
    if isinstance(value, StoredResult) and not value.held:
        read = _read(value.result, value.location, label)
        return StoredResult(value.result, value.location, read, key=value.key)
    return value


def _read(result: Result, location: str, label: str) -> Any:
    try:
        return result.read(location)
    except ResultReadError as err:
        raise ResultReadError(err.location, err.cause, label) from err


# ---- after a successful attempt ---------------------------------------------------------------
def checkpoint(run: TaskRunLike, kwargs: Mapping[str, Any], outcome: State) -> State:
    """``outcome`` (a ``Success``) with its value stored and cached as the task asks, or
    ``Failed`` naming the location when it cannot be stored."""
    task, label, upstream_states, constants = run.task, run.label, run.upstream_states, run.inputs
    value = outcome._result
    caches = getattr(task, "cache_for", None) is not None
    try:
        key = _cache_key(task, upstream_states, constants) if caches else None
        stored = _store(task, label, kwargs, value, key)
        if key is not None:
            _cache(task, key, kwargs, stored if stored is not None else value)
    except ResultError as err:
        return Failed(str(err), err).evolve(duration=outcome.duration, run_count=outcome.run_count)
    return outcome if stored is None else outcome.with_result(stored)


def _store(
    task: Any, label: str, kwargs: Mapping[str, Any], value: Any, key: str | None
) -> StoredResult | None:
    result = result_of(task)
    if result is None or getattr(task, "checkpoint", None) is False:
        return None
    template = getattr(task, "target", None) or result.location or DEFAULT_LOCATION
    location = format_location(template, _keys(kwargs), label)
    try:
        where = result.write(value, location)
    except ResultWriteError as err:
        raise ResultWriteError(err.location, err.cause, label) from err
    return StoredResult(result, where, value, key=key or where)


def _cache(task: Any, key: str, kwargs: Mapping[str, Any], value: Any) -> None:
    expiration = _dt.datetime.now(_dt.UTC) + task.cache_for
    location = value.location if isinstance(value, StoredResult) else None
    entry = cache_store.CacheEntry(value, dict(kwargs), dict(_parameters()), expiration, location)
    cache_store.remember(key, entry)
    result = result_of(task)
    if location is not None and cache_store.persists_index(result):
        try:
            cache_store.write_index(result, key, entry)
        except Exception as err:  # storage errors: the index is part of the result
            where = cache_store.index_location(result, key)
            raise ResultWriteError(where, f"{type(err).__name__}: {err}") from err


# ---- keys ---------------------------------------------------------------------------------------
def _cache_key(
    task: Any, upstream_states: Mapping[Hashable, State], constants: Mapping[str, Any]
) -> str:
    """The run's cache key, computed once per task run (see the module docstring)."""
    context = current()
    run_id = context.get("task_run_id")
    if getattr(_last_key, "run_id", None) == run_id and run_id is not None:
        return str(_last_key.key)
    map_index = context.get("map_index")
    given = getattr(task, "cache_key", None)
    if given is not None:
        key = str(given) if map_index is None else f"{given}[{map_index}]"
    else:
        key = lineage_key(task, map_index, constants, upstream_states, _parameters())
    _last_key.run_id, _last_key.key = run_id, key
    return key


def _parameters() -> Mapping[str, Any]:
    parameters = current().get("parameters")
    return parameters if isinstance(parameters, Mapping) else {}


def _keys(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    context = current()
    keys = location_keys(context, _parameters(), kwargs)
    for name, default in _LOCATION_DEFAULTS.items():
        if keys.get(name) is None:
            keys[name] = default
    return keys
