"""Final states packed as columns, for a list of them sent through the scheduler.

A ``@flow`` reduce over a map whose children came back with their results inline
(``total(add_one.map(xs))``) receives the children's final states from the orchestrator:
their batches' Dask futures were dropped once the results were here. Pickled one by one, a
state costs about 130 bytes (its class, ten fields, a result holder); 300,000 of them were
a 39 MB graph. Packed, the fields shared by most states (class, name, message, the result's
type) are kept once in small tables, the task-run names as runs (``taskrun.name_runs``),
and each state adds its result's pickle, run count, timestamp and duration: about 30 bytes.
Only plain final states pack (no map states, start time, context, cached inputs, extras,
and a result still pickled, or none); ``pack`` says None for any other list.

>>> import pickle
>>> from taskrun.states import Success
>>> states = [Success("ok", InlineResult(pickle.dumps(i), "int", f"a-{i}")) for i in range(3)]
>>> again = unpack(*pickle.loads(pickle.dumps(pack(states))))
>>> again[2]._result.task_run, again[0].message, [s.result() for s in again]
('a-2', 'ok', [0, 1, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskrun.dask.pickled import InlineResult
from taskrun.gc_pause import gc_paused
from taskrun.name_runs import NameRuns, compact_names
from taskrun.state_fresh import fresh, plain_init, stamp_seconds
from taskrun.states import State

#: (tables, task_runs, rows): tables of classes, names, messages and type names; one row
#: per state of (class, name, message, type name indexes, pickle, run count, stamp, duration)
Packed = tuple[tuple[list[Any], ...], NameRuns, list[tuple[Any, ...]]]


class _Table:
    """Distinct values in first-seen order, and each one's index."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}

    def index(self, value: Any) -> int:
        found = self._index.get(value)
        if found is None:
            found = self._index[value] = len(self.values)
            self.values.append(value)
        return found


def pack(states: Sequence[State]) -> Packed | None:
    """``states`` as columns, or None when one of them does not pack (see the module)."""
    classes, names, messages, types = _Table(), _Table(), _Table(), _Table()
    task_runs: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for state in states:
        cls, result = type(state), state._result
        if (
            not plain_init(cls)
            or state._map_states is not None
            or state._start_time is not None
            or state._context is not None
            or state._cached_inputs is not None
        ):
            return None
        if result is None:
            head, type_name, task_run = None, None, ""
        elif (
            type(result) is InlineResult
            and result._head is not None
            and not result._buffers
            and result.text is None
            and result.traceback is None
            and result.reason is None
        ):
            head, type_name, task_run = result._head, result.type_name, result.task_run
        else:
            return None
        task_runs.append(task_run)
        rows.append((
            classes.index(cls), names.index(state._name), messages.index(state._message),
            types.index(type_name), head, state._run_count,
            stamp_seconds(state), state._duration,
        ))  # fmt: skip
    tables = (classes.values, names.values, messages.values, types.values)
    return tables, compact_names(task_runs), rows


def unpack(
    tables: tuple[list[Any], ...], task_runs: NameRuns, rows: list[tuple[Any, ...]]
) -> list[State]:
    """The states ``pack`` packed."""
    classes, names, messages, types = tables
    states: list[State] = []
    with gc_paused():  # a state and a holder per row, at once
        for (cls, name, message, type_name, head, runs, stamp, duration), task_run in zip(
            rows, task_runs, strict=True
        ):
            result = None if head is None else InlineResult(head, types[type_name], task_run)
            states.append(fresh(classes[cls], messages[message], result, names[name], runs,
                                stamp, duration, None))  # fmt: skip
    return states
