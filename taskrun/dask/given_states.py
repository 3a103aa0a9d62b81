"""Given states: the upstream states a Dask task receives that no Dask task computed.

A mapped task's children found ``Cached`` before they were submitted (their targets were
there: ``orchestrator/runs/target_probe.py``) have no Dask task to point at; a downstream
task receives their states as one argument, a ``GivenStates`` list, pointed into as a
batch's outputs are. A reduce over 100,000 such children would otherwise carry 100,000
pickled states through the scheduler (16 MB, and Dask's "large graph" warning). When they
are all lazy target hits of one result, the list travels as that result, the locations'
common prefix and each location's rest; the receiving side (the scheduler, then the
worker) builds the same ``Cached`` states again, with nothing read. Final states whose
Dask task is gone (results that came back inline) travel the same way, packed as columns
(``packed_states``). Pure: no Dask here.

>>> from taskrun.results.local import LocalResult
>>> result = LocalResult(dir="/data")
>>> given = GivenStates([target_hit(result, f"file:///data/{i}.pkl") for i in range(3)])
>>> import pickle
>>> [s.message for s in pickle.loads(pickle.dumps(given))][2]
"Task run found an existing target at 'file:///data/2.pkl'."
"""

from __future__ import annotations

import os
from typing import Any

from taskrun.dask.packed_states import pack, unpack
from taskrun.gc_pause import gc_paused
from taskrun.persistence import TARGET_HIT, target_hit
from taskrun.results.base import Result
from taskrun.results.stored import StoredResult
from taskrun.states import Cached, State


class GivenStates(list[State]):
    """States known before their runs, sent to a Dask task as one argument."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        hits = _as_hits(self)
        if hits is None:
            packed = pack(self)  # plain final states (a @flow reduce's children): columns
            return (GivenStates, (list(self),)) if packed is None else (_unpacked, packed)
        result, locations = hits
        prefix = os.path.commonprefix(locations)  # noqa: RUF071 - a string prefix, by intent
        return (_hits, (result, prefix, [where[len(prefix) :] for where in locations]))


def _as_hits(states: list[State]) -> tuple[Result, list[str]] | None:
    """(result, locations) when every state is a lazy target hit of one result, else None."""
    if not states:
        return None
    first = states[0]._result
    if not isinstance(first, StoredResult):
        return None
    result = first.result
    locations = []
    for state in states:
        stored = state._result
        if (
            type(state) is not Cached
            or not isinstance(stored, StoredResult)
            or stored.held
            or stored.result is not result
            or stored.key != stored.location
            or state.message != TARGET_HIT.format(stored.location)
            or state._cached_inputs is not None
        ):
            return None
        locations.append(stored.location)
    return result, locations


def _unpacked(*packed: Any) -> GivenStates:
    return GivenStates(unpack(*packed))


def _hits(result: Result, prefix: str, rests: list[str]) -> GivenStates:
    with gc_paused():
        return GivenStates(target_hit(result, prefix + rest) for rest in rests)
