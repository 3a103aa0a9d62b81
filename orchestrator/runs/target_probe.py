"""A mapped task's existing targets, found in one pass before its children are submitted.

A fully cached re-run of a map would otherwise send every child to its runner only to
find its target there (a Dask task run per batch, a state back per child). When the
orchestrator sees the workers' disk (``runner.shares_local_storage``: the sequential and
thread runners, a Dask cluster this process started on its own machine), ``DagPass``
asks here first: each child's target is formatted as its run would format it, each
directory holding them is listed once, and a child whose target is there becomes
``Cached`` without being submitted. Its value stays where it is: the state holds a lazy
``StoredResult``, read by whoever needs the value (a downstream task on its worker).

The check stands in for the child's own only when it would give the same answer, so it
applies to a mapped task whose

- target is a ``str`` template naming only keys known here with the values the run
  would see: the flow run's keys, parameters, constant inputs, and ``task_name``,
  ``task_slug``, ``task_tags``, ``map_index`` (not ``task_run_id``, not an input from
  an upstream task);
- result stores on local disk;
- upstream runs all succeeded already (so the child's trigger passes and nothing skips),
  and whose trigger passes when they all succeed;
- runs have no state handlers (they would not see the transition), and no downstream
  task flattens its children (that needs each result's length).

Otherwise each child checks its own target where it runs, as before.
"""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.dag.edge import Edge
from taskrun import triggers
from taskrun.cache_store import persists_index
from taskrun.persistence import LOCATION_DEFAULTS, result_of, target_hit
from taskrun.results.base import Result
from taskrun.results.fsspec_result import local_path
from taskrun.results.locations import LayeredKeys
from taskrun.states import State

logger = logging.getLogger("orchestrator.task_runs")

_formatter = string.Formatter()
#: task-run keys whose value is known before the run (``taskrun.run_keys``)
_TASK_KEYS = ("task_name", "task_slug", "task_tags", "map_index")
#: triggers that pass when every upstream run succeeded
_PASSING = (
    triggers.all_successful,
    triggers.all_finished,
    triggers.any_successful,
    triggers.not_all_skipped,
)
#: a directory holding at least this many candidates is listed, not checked file by file
_LIST_FROM = 16


def existing_targets(
    task: Any,
    count: int,
    keys: Mapping[str, Any],
    constants: Mapping[str, Any],
    inputs: Sequence[Edge],
    upstream: Sequence[State],
    skip: set[int],
) -> dict[int, State]:
    """``Cached`` states by map index for the children of ``task`` whose target exists
    (none when the check does not apply, see the module docstring); ``skip``: indexes
    that have a state already."""
    result = _probed_result(task, keys, constants, inputs, upstream)
    if result is None:
        return {}
    template: str = task.target
    parameters = keys.get("parameters")
    task_keys: dict[str, Any] = {
        "task_name": task.name,
        "task_slug": task.slug or task.name,
        "task_tags": sorted(task.tags) if task.tags else [],
    }
    layers = (keys, task_keys, parameters if isinstance(parameters, Mapping) else {}, constants)
    located = LayeredKeys(layers, LOCATION_DEFAULTS)
    paths: dict[int, tuple[str, str]] = {}
    for i in range(count):
        if i in skip:
            continue
        task_keys["map_index"] = i
        where = result.path(template.format_map(located))
        path = local_path(where)
        if path is None:
            return {}
        paths[i] = (where, path)
    there = _files_there([path for _, path in paths.values()])
    found: dict[int, State] = {}
    for i, (where, path) in paths.items():
        if path in there:
            found[i] = target_hit(result, where)
    if found:
        logger.info(
            "Task %r: %d of %d mapped children found their targets; Cached without running.",
            task.name,
            len(found),
            count,
        )
    return found


def _probed_result(
    task: Any,
    keys: Mapping[str, Any],
    constants: Mapping[str, Any],
    inputs: Sequence[Edge],
    upstream: Sequence[State],
) -> Result | None:
    """The result whose storage the check reads, or None when the check does not apply."""
    template = getattr(task, "target", None)
    result = result_of(task)
    if not isinstance(template, str) or not persists_index(result):
        return None
    if task.state_handlers or (task.trigger or triggers.all_successful) not in _PASSING:
        return None
    if not all(s.is_successful() and not s.is_skipped() for s in upstream):
        return None
    parameters = keys.get("parameters")
    known = {*keys, *_TASK_KEYS, *(parameters or ()), *constants}
    from_upstream = {edge.key for edge in inputs if edge.key is not None}
    for _, field, _, _ in _formatter.parse(template):
        if field is None:
            continue
        name = field.split(".", 1)[0].split("[", 1)[0]
        if not name or name not in known or name in from_upstream:
            return None
    return result


def _files_there(paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` are files: each directory holding many of them is listed once."""
    by_directory: dict[str, list[str]] = {}
    for path in paths:
        by_directory.setdefault(os.path.dirname(path), []).append(path)
    there: set[str] = set()
    for directory, candidates in by_directory.items():
        if len(candidates) < _LIST_FROM:
            there.update(p for p in candidates if os.path.isfile(p))
            continue
        try:
            with os.scandir(directory or ".") as entries:
                names = {entry.name for entry in entries if entry.is_file()}
        except OSError:  # no such directory yet: nothing there
            continue
        there.update(p for p in candidates if os.path.basename(p) in names)
    return there
