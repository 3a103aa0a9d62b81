"""IdentityCache: what the Dask submitter worked out for an object, found by its identity.

The keys are objects compared by identity, often unhashable (argument dicts) or costly to
hash (tasks, edges). An entry holds its key, so the key's ``id`` cannot be reused by another
object while the entry lives. A ``limit`` keeps only the latest entries: mapped children
that share a key are submitted together, so the latest few serve every hit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    """``get(key, make, *args)``: the value ``make(*args)`` gave for this very ``key``
    object, made on first use."""

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int | None = None) -> None:
        self._entries: dict[int, tuple[Any, V]] = {}
        self._limit = limit

    def get(self, key: Any, make: Callable[..., V], *args: Any) -> V:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0] is key:
            return entry[1]
        value = make(*args)
        if self._limit is not None and len(self._entries) >= self._limit:
            del self._entries[next(iter(self._entries))]  # the oldest
        self._entries[id(key)] = (key, value)
        return value
