"""Final states packed as columns, for a list of them sent through the scheduler.

A ``@flow`` reduce over a map whose children came back with their results inline
(``total(add_one.map(xs))``) receives the children's final states from the orchestrator:
their batches' Dask futures were dropped once the results were here. Pickled one by one, a
state costs about 90-130 bytes (its class, ten fields, a result holder); 300,000 of them
were a 39 MB graph. Packed, the fields shared by most states (class, name, message, the
result's type) are kept once in small tables, the task-run names as runs
(``taskrun.name_runs``), and the rest as columns: machine arrays for the numbers (a
timestamp is 8 bytes, a table index 2), a list of the results' pickles. About 45 bytes a
state on the wire (most of it the result's own pickle and two floats), and little more while
it is packed: no tuple or float object per state. Only plain final states pack (no map
states, start time, context, cached inputs, extras, and a result still pickled, or none);
``pack`` says None for any other list.

>>> import pickle
>>> from taskrun.states import Success
>>> states = [Success("ok", InlineResult(pickle.dumps(i), "int", f"a-{i}")) for i in range(3)]
>>> again = unpack(*pickle.loads(pickle.dumps(pack(states))))
>>> again[2]._result.task_run, again[0].message, [s.result() for s in again]
('a-2', 'ok', [0, 1, 2])
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Any

from taskrun.dask.pickled import InlineResult
from taskrun.gc_pause import gc_paused
from taskrun.name_runs import NameRuns, compact_names
from taskrun.state_fresh import fresh, plain_init, stamp_seconds
from taskrun.states import State

#: (tables, task_runs, columns): tables of classes, names, messages and result type names;
#: the task-run names; the columns, a value per state: indexes into the tables, the run
#: count, the timestamp, the duration (NaN for none) and the result's pickle (None: none)
Packed = tuple[tuple[list[Any], ...], NameRuns, tuple[Any, ...]]


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


def _packs(state: State) -> bool:
    """Whether ``state`` packs: plain, its result still pickled in a holder of its own."""
    result = state._result
    return (
        plain_init(type(state))
        and state._map_states is None
        and state._start_time is None
        and state._context is None
        and state._cached_inputs is None
        and (
            result is None
            or (
                type(result) is InlineResult
                and result._head is not None
                and not result._buffers
                and result.text is None
                and result.traceback is None
                and result.reason is None
            )
        )
    )


def pack(states: Sequence[State]) -> Packed | None:
    """``states`` as columns, or None when one of them does not pack (see the module)."""
    if not all(_packs(state) for state in states):
        return None
    tables = _Table(), _Table(), _Table(), _Table()
    classes, names, messages, types = tables
    kinds, named, said, typed = array("H"), array("H"), array("H"), array("H")
    runs, stamps, durations = array("I"), array("d"), array("d")
    heads: list[bytes | None] = []
    task_runs: list[str] = []
    for state in states:
        result = state._result
        kinds.append(classes.index(type(state)))
        named.append(names.index(state._name))
        said.append(messages.index(state._message))
        runs.append(state._run_count)
        stamps.append(stamp_seconds(state))
        duration = state._duration
        durations.append(math.nan if duration is None else duration)
        if result is None:
            typed.append(types.index(None))
            heads.append(None)
            task_runs.append("")
        else:
            typed.append(types.index(result.type_name))
            heads.append(result._head)
            task_runs.append(result.task_run)
    if any(len(table.values) > 0xFFFF for table in tables):
        return None  # more distinct messages than an index column holds
    values = tuple(table.values for table in tables)
    columns = (kinds, named, said, typed, runs, stamps, durations, heads)
    return values, compact_names(task_runs), columns


def unpack(
    tables: tuple[list[Any], ...], task_runs: NameRuns, columns: tuple[Any, ...]
) -> list[State]:
    """The states ``pack`` packed."""
    classes, names, messages, types = tables
    kinds, named, said, typed, runs, stamps, durations, heads = columns
    states: list[State] = []
    with gc_paused():  # a state and a holder per row, at once
        for i, task_run in enumerate(task_runs):
            head = heads[i]
            result = None if head is None else InlineResult(head, types[typed[i]], task_run)
            duration = durations[i]
            states.append(
                fresh(classes[kinds[i]], messages[said[i]], result, names[named[i]], runs[i],
                      stamps[i], None if math.isnan(duration) else duration, None)
            )  # fmt: skip
    return states
