"""What the orchestrator's Dask task values weigh, as Dask's memory manager sees them.

A ``run_one`` Dask task's value is the task run's ``State`` (its result inside); a
``run_batch`` one's is a ``StateBatch`` of them. Dask measures values with
``dask.sizeof.sizeof``, which knows neither: it would record a ``State`` holding 100 MB
as about a hundred bytes, and then neither spill it, nor pause the worker, nor count it
when it places tasks. The functions registered here give the payload's size: the
result's (``sizeof(state.data)``, without loading a result still pickled: its bytes
then) plus a small constant for the state; a batch, the sum of its members'. Importing
this module registers them (``taskrun.dask.entry`` does, so every worker that runs a
task run has them).
"""

from __future__ import annotations

import sys
from typing import Any

from dask.sizeof import sizeof

from taskrun.dask.pickled import InlineResult
from taskrun.states import State

#: bytes a state costs besides its result (its slots and fields tuple)
STATE_OVERHEAD = 200


class StateBatch(list[State]):
    """The states of a batch of mapped children: a ``run_batch`` Dask task's value."""

    __slots__ = ()


def sizeof_state(state: State) -> int:
    """The state's result size plus ``STATE_OVERHEAD`` (a pickled result: its bytes)."""
    value = state._result  # not ``data``: a result still pickled stays so
    try:
        if value is None:
            return STATE_OVERHEAD
        if isinstance(value, InlineResult):
            return STATE_OVERHEAD + value.nbytes(sizeof)
        return STATE_OVERHEAD + int(sizeof(value))
    except Exception:  # a size estimate must never fail a task
        return STATE_OVERHEAD + sys.getsizeof(value, 0)


def sizeof_batch(batch: StateBatch) -> int:
    """The sum of the members' sizes (every member: a batch is no sample)."""
    return int(sys.getsizeof(batch)) + sum(sizeof_state(state) for state in batch)


_register: Any = sizeof.register  # untyped in dask
_register(State)(sizeof_state)
_register(StateBatch)(sizeof_batch)
