"""StoredResult: a state's result that is (also) kept in storage, with its location.

A checkpointed ``Success`` and a ``Cached`` state hold one of these instead of the bare
value, so the state records where its result is stored (``result_location(state)``) while
``state.result()`` works as for any state. Two forms:

    held      the value is here too (just computed, or just read): ``load()`` is free
    lazy      only the location is known: ``load()`` reads it, once, where it is asked for

Pickled (a state sent to another process), a held result travels as its value, like
any result; a lazy one travels as a lazy one, read where its value is first asked for
(a downstream task run on its worker), never while unpickling: a Dask scheduler
unpickles the task arguments it receives and must not read anyone's results. As for
every ``DeferredResult``, the first ``state.result()`` keeps the value in the state in
place of this reference; ``result_location`` then no longer knows the location (the
state's message still names it).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from taskrun.deferred_result import DeferredResult

if TYPE_CHECKING:
    from taskrun.results.base import Result
    from taskrun.states import State

_UNSET: Any = object()
#: bytes a lazy reference is counted as (its location and result), for Dask's memory books
_REFERENCE_BYTES = 300


class StoredResult(DeferredResult):
    """A result stored at ``location`` by ``result``; the value itself when ``held``."""

    __slots__ = ("_value", "key", "location", "result")

    def __init__(self, result: Result, location: str, value: Any = _UNSET, key: str = "") -> None:
        #: the ``Result`` that wrote it (and reads it back)
        self.result = result
        #: where it is stored (a full URL; for ``PrefectResult`` the JSON text)
        self.location = location
        #: the cache key it was stored under ("" when none): downstream lineage keys use it
        self.key = key
        self._value = value

    @property
    def held(self) -> bool:
        """Whether the value is in this process already."""
        return self._value is not _UNSET

    @property
    def type_name(self) -> str:  # type: ignore[override]  # a property over a class default
        return type(self._value).__name__ if self.held else "StoredResult"

    def load(self) -> Any:
        """The value (read from storage the first time, for a lazy reference).

        Raises:
            ResultReadError: the stored result cannot be read back (its location named).
        """
        if self._value is _UNSET:
            self._value = self.result.read(self.location)
        return self._value

    def is_same_reference(self, other: DeferredResult) -> bool:
        if not isinstance(other, StoredResult):
            return False
        return self is other or (self.location == other.location and self.result == other.result)

    def __sizeof__(self) -> int:
        if self._value is _UNSET:
            return _REFERENCE_BYTES
        return sys.getsizeof(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        if self._value is _UNSET:
            return (_lazy, (self.result, self.location, self.key))
        return (_value_of, (self._value,))

    def __repr__(self) -> str:
        form = "held" if self.held else "lazy"
        return f"<StoredResult {self.location!r} ({form})>"


def _lazy(result: Result, location: str, key: str) -> StoredResult:
    return StoredResult(result, location, key=key)


def _value_of(value: Any) -> Any:
    return value


def result_location(state: State) -> str | None:
    """Where ``state``'s result is stored, if it is and the state still knows it.

    Known in the process that made the state (a ``StoredResult``) and, on Dask, in the
    orchestrator's state too: the worker's summary carries the location, and the state's
    result reference keeps it (``taskrun.dask.records``). Once ``state.result()`` has
    loaded the value, the state holds the value alone and this is None.
    """
    value = state._result
    if not isinstance(value, DeferredResult):  # a plain value: nothing says where it is
        return None
    location = getattr(value, "location", None)
    return location if isinstance(location, str) else None
