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

Where a checkpoint goes, and what it costs (creating a file costs this VM 35 µs to 2 ms,
more than a whole trivial task run):

- **No target, no ``location`` template, local disk**: appended to a container shared
  by the children this thread runs (``taskrun.results.containers``), its location
  ``file#offset:length``. No file per child; ``checkpoint=True`` on a big map stays cheap.
- **A target (or a location template), or an object store**: one file per task run, as
  named, written before the run's state is returned.

Every write is synchronous: a run is ``Success`` only once its checkpoint is written
whole (in the operating system; nothing is fsync'ed), and a write that fails fails that
run, naming the location, before anyone sees a ``Success``. A write-behind thread for
per-child targets was measured and left out: parallel writers help only while the disk
is slow (latency-bound), and the cost they hide (the task run, ~15 µs) is small beside
the file they wait for, so a target per child stays several times the cost of no
checkpoint; a run whose state is reported before its file exists could not be failed.

A target hit reads its value where the task runs, eagerly: the worker's summary needs
the mapping length of a result anyway (``taskrun.wire.shape_of``), and storing lengths
beside targets would add a file per child. A cache hit's value is read from its
container range (one open and ``pread``), found in an index read in bulk (``taskrun.cache_store``).
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
from taskrun.results.locations import LayeredKeys, format_location
from taskrun.results.stored import StoredResult
from taskrun.states import Cached, Failed, State

#: the cache key of the task run this thread computed last: a run that misses its cache
#: computes it once, before its attempts, and reuses it when it checkpoints
_last_key = threading.local()
#: context keys a default location needs, when a task runs outside any flow
#: the options that make a task's runs read or write results
_PERSISTENT_OPTIONS = ("result", "target", "cache_for")
LOCATION_DEFAULTS = {"flow_name": "no-flow", "task_slug": "task", "task_run_id": "run"}


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
    found, value = _read_if_there(result, location, label)
    if not found:
        return None
    where = result.path(location)
    return Cached(TARGET_HIT.format(where), StoredResult(result, where, value, key=where))


#: the message of a run whose target exists (``check_cached``, ``target_hit``)
TARGET_HIT = "Task run found an existing target at {!r}."


def target_hit(result: Result, where: str) -> Cached:
    """The state of a run whose target ``where`` exists, found before the run (in one pass
    over a map's children, ``orchestrator/runs/target_probe.py``): its value not read."""
    return Cached(TARGET_HIT.format(where), StoredResult(result, where, key=where))


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
    found = _first_valid(cache_store.entries(key), validator, label, kwargs, parameters)
    result = result_of(task)
    stores = getattr(task, "checkpoint", None) is not False
    if found is _MISS and stores and cache_store.persists_index(result):
        persisted = cache_store.read_index(result, key)  # read in bulk, once per flow run
        candidates = [persisted] if persisted is not None else []
        found = _first_valid(candidates, validator, label, kwargs, parameters)
    if found is _MISS:
        return None
    return Cached(f"Task run found a valid cached result (cache key {key!r}).", found)


#: what ``_first_valid`` returns when no entry stands in
_MISS: Any = object()


def _first_valid(
    candidates: list[cache_store.CacheEntry],
    validator: Any,
    label: str,
    kwargs: Mapping[str, Any],
    parameters: Mapping[str, Any],
) -> Any:
    """The result of the first entry that ``validator`` accepts and whose stored result is
    still there (read here: a deleted one is a miss, the task runs again), or ``_MISS``."""
    for entry in candidates:
        try:
            valid = bool(validator(entry, kwargs, parameters))
        except Exception as err:  # a user's validator
            name = getattr(validator, "__name__", repr(validator))
            raise CacheValidatorError(label, name, repr(err)) from err
        if not valid:
            continue
        value = entry.value
        if not isinstance(value, StoredResult) or value.held:
            return value
        there, read = _read_if_there(value.result, value.location, label)
        if there:
            return StoredResult(value.result, value.location, read, key=value.key)
    return _MISS


def _read_if_there(result: Result, location: str, label: str) -> tuple[bool, Any]:
    """(True, the value) of a stored result, (False, None) when nothing is there: one
    read, no separate existence check (a cached re-run of a map asks once per child).
    Something there that cannot be read back (a truncated file or container range, a
    broken pickle) raises: the run fails with the location rather than run again."""
    try:
        return True, result.read(location)
    except ResultReadError as err:
        cause = err.__cause__
        if isinstance(cause, FileNotFoundError):
            return False, None
        if not isinstance(cause, EOFError) and not result.exists(location):
            return False, None  # a store that says "missing" another way
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
    template = getattr(task, "target", None) or result.location
    try:
        if template is None and result.can_append:  # no name asked for: a container
            where = result.append(value, _container_directory())
        else:
            location = format_location(template or DEFAULT_LOCATION, _keys(kwargs), label)
            where = result.write(value, location)
    except ResultWriteError as err:
        raise ResultWriteError(err.location, err.cause, label) from err
    return StoredResult(result, where, value, key=key or where)


def _container_directory() -> str:
    """Where a checkpoint without a target goes on local disk: ``{flow_name}/{task_slug}``
    (the default location's directory), in containers (``taskrun.results.containers``)."""
    context = current()
    flow_name = context.get("flow_name") or LOCATION_DEFAULTS["flow_name"]
    task_slug = context.get("task_slug") or LOCATION_DEFAULTS["task_slug"]
    return f"{flow_name}/{task_slug}"


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


def _keys(kwargs: Mapping[str, Any]) -> LayeredKeys:
    """What a target template may name: context, then parameters, then inputs."""
    return LayeredKeys((current(), _parameters(), kwargs), LOCATION_DEFAULTS)
