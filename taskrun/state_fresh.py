"""States built and read on the orchestrator's hot path: one per task run summary.

``cls(message, result, name=..., ...)`` parses keywords and defaults; on a map of a
million children the orchestrator builds a state from each child's summary, so
``fresh`` writes the slots directly, as ``StateFields.__init__`` would, for the classes
whose constructor is that one. ``stamp_seconds`` reads a state's timestamp as the float
it is kept as, without the ``datetime`` the ``timestamp`` property makes.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, TypeVar

from taskrun.state_fields import StateFields

_S = TypeVar("_S", bound=StateFields)
_new = object.__new__


def fresh(
    cls: type[_S],
    message: str | None,
    result: Any,
    name: str,
    run_count: int,
    stamp: float,
    duration: float | None,
    cached_inputs: dict[str, Any] | None,
) -> _S:
    """A ``cls`` as ``cls(message, result, name=name, run_count=..., ...)`` builds it with
    no map states, start time or context, ``stamp`` in POSIX seconds (``plain_init``
    classes only).

    >>> from taskrun.states import Success
    >>> fresh(Success, "done", 3, "", 1, 0.0, 0.5, None).timestamp.year
    1970
    """
    state: _S = _new(cls)
    state._message = message
    state._result = result
    state._name = name or cls.__name__
    state._map_states = None
    state._start_time = None
    state._run_count = run_count
    state._cached_inputs = cached_inputs
    state._stamp = stamp
    state._duration = duration
    state._context = None
    return state


def plain_init(cls: type[StateFields]) -> bool:
    """Whether ``fresh`` builds ``cls`` exactly as its constructor would: it keeps
    ``StateFields.__init__`` and carries no attributes of its own."""
    return cls.__init__ is StateFields.__init__ and not cls._carries_extras


def stamp_seconds(state: StateFields) -> float:
    """``state.timestamp.timestamp()``, without making the ``datetime``."""
    stamp = state._stamp
    return stamp.timestamp() if isinstance(stamp, _dt.datetime) else stamp
