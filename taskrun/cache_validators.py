"""Cache validators: whether a cached result may stand in for running a task again.

A task with ``cache_for=timedelta(...)`` keeps its successful results in a cache
(``taskrun.cache_store``). Before a later run of it (or of any task sharing its
``cache_key``) starts, each candidate entry is offered to the task's ``cache_validator``
as ``validator(entry, inputs, parameters) -> bool``; the first entry it accepts makes the
run ``Cached`` without calling the body. ``entry`` is a ``CacheEntry`` with
``cached_inputs``, ``cached_parameters`` and ``cached_result_expiration`` (the names
Prefect 1's cached states used), ``inputs`` the run's keyword arguments and
``parameters`` the flow run's parameters:

    never_use                       never valid
    duration_only (the default)     valid until ``cache_for`` has passed
    all_inputs                      and every input equals the cached one
    all_parameters                  and every parameter equals the cached one
    partial_inputs_only(names)      and the named inputs are equal
    partial_parameters_only(names)  and the named parameters are equal

Every validator but ``never_use`` also checks the expiration. An entry read back from a
persisted cache index holds digests of its inputs and parameters; they compare equal to
the values whose pickles hash the same, so the validators work on both alike.

>>> import datetime as dt
>>> from taskrun.cache_store import CacheEntry
>>> later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
>>> entry = CacheEntry(3, {"x": 1}, {"day": "mon"}, later)
>>> all_inputs(entry, {"x": 1}, {}), all_inputs(entry, {"x": 2}, {})
(True, False)
>>> partial_parameters_only(["day"])(entry, {}, {"day": "mon", "n": 5})
True
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from taskrun.cache_store import CacheEntry

#: ``validator(entry, inputs, parameters) -> bool``
CacheValidator: TypeAlias = Callable[["CacheEntry", Mapping[str, Any], Mapping[str, Any]], bool]


def never_use(entry: CacheEntry, inputs: Mapping[str, Any], parameters: Mapping[str, Any]) -> bool:
    """Never valid: the task always runs (its results are still cached for others)."""
    return False


def duration_only(
    entry: CacheEntry, inputs: Mapping[str, Any], parameters: Mapping[str, Any]
) -> bool:
    """Valid while the entry has not expired (an entry with no expiration never does)."""
    expiration = entry.cached_result_expiration
    if expiration is None:
        return True
    if expiration.tzinfo is None:  # naive datetimes are UTC
        expiration = expiration.replace(tzinfo=_dt.UTC)
    return _dt.datetime.now(_dt.UTC) < expiration


def all_inputs(entry: CacheEntry, inputs: Mapping[str, Any], parameters: Mapping[str, Any]) -> bool:
    """Unexpired, and called with exactly the inputs the cached run had."""
    return duration_only(entry, inputs, parameters) and _equal(entry.cached_inputs, inputs)


def all_parameters(
    entry: CacheEntry, inputs: Mapping[str, Any], parameters: Mapping[str, Any]
) -> bool:
    """Unexpired, and the flow run's parameters are exactly the cached run's."""
    return duration_only(entry, inputs, parameters) and _equal(entry.cached_parameters, parameters)


def partial_inputs_only(validate_on: Iterable[str] | None = None) -> CacheValidator:
    """A validator: unexpired, and the inputs named in ``validate_on`` are the cached ones
    (``None``: every input, as ``all_inputs``)."""
    names = None if validate_on is None else tuple(validate_on)

    def validator(
        entry: CacheEntry, inputs: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> bool:
        return duration_only(entry, inputs, parameters) and _equal(
            entry.cached_inputs, inputs, names
        )

    validator.__name__ = f"partial_inputs_only({list(names) if names is not None else None})"
    return validator


def partial_parameters_only(validate_on: Iterable[str] | None = None) -> CacheValidator:
    """A validator: unexpired, and the parameters named in ``validate_on`` are the cached
    ones (``None``: every parameter, as ``all_parameters``)."""
    names = None if validate_on is None else tuple(validate_on)

    def validator(
        entry: CacheEntry, inputs: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> bool:
        return duration_only(entry, inputs, parameters) and _equal(
            entry.cached_parameters, parameters, names
        )

    validator.__name__ = f"partial_parameters_only({list(names) if names is not None else None})"
    return validator


def _equal(
    cached: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    names: Iterable[str] | None = None,
) -> bool:
    """Whether ``cached`` and ``current`` agree on ``names`` (default: on every key of
    either). A value that cannot be compared (``==`` raising, or not a bool, as arrays do)
    counts as different: a cache must never guess."""
    cached = cached or {}
    keys = set(cached) | set(current) if names is None else set(names)
    for key in keys:
        if (key in cached) != (key in current):
            return False
        if key not in cached:
            continue
        try:
            same = bool(cached[key] == current[key])
        except Exception:  # user values may refuse comparison (arrays, say)
            return False
        if not same:
            return False
    return True
