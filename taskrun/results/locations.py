"""Locations: where a result is stored, formatted from a template for one task run.

A target or a result's ``location`` is either a ``str.format`` template or a callable.
Both see the run's keys, later layers winning::

    context keys (flow_name, task_name, task_full_name, map_index, today, ...)
    -> parameters (each by name)  -> the task's inputs (each by argument name)

``"{flow_name}/{task_name}/{map_index}.pkl"`` gives ``"etl/load/3.pkl"`` for child 3;
a callable is called as ``location(**keys)`` and returns the string. A name the run does
not have raises ``TargetTemplateError`` naming it and listing the available keys.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

from taskrun.results.errors import TargetTemplateError

#: a location as given: a ``str.format`` template, or ``location(**keys) -> str``
LocationTemplate: TypeAlias = str | Callable[..., str]

_formatter = string.Formatter()


class LayeredKeys(Mapping[str, Any]):
    """The keys a location template may name (the layers of the module docstring) without
    copying them: a lookup asks the layers, the last first; a key found as None (or
    missing) takes its ``fallback`` value, if any.

    A map's children each format their target once, and a template names two or three
    keys: looking those up costs less than merging the run's whole context per child.
    """

    __slots__ = ("_fallback", "_layers")

    def __init__(
        self, layers: Sequence[Mapping[str, Any]], fallback: Mapping[str, Any] | None = None
    ) -> None:
        self._layers = tuple(reversed(layers))
        self._fallback = fallback or {}

    def __getitem__(self, key: str) -> Any:
        for layer in self._layers:
            if key in layer:
                value = layer[key]
                if value is None and key in self._fallback:
                    break
                return value
        return self._fallback[key]

    def __iter__(self) -> Iterator[str]:
        seen = set(self._fallback)
        for layer in self._layers:
            seen.update(layer)
        return iter(seen)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@functools.lru_cache(maxsize=256)
def has_fields(template: str) -> bool:
    """Whether ``template`` names any ``{key}`` (a plain path needs no formatting)."""
    return any(field is not None for _, field, _, _ in _formatter.parse(template))


def format_location(
    template: LocationTemplate, keys: Mapping[str, Any], task_name: str | None = None
) -> str:
    """``template`` filled from ``keys``.

    Raises:
        TargetTemplateError: the template names a key ``keys`` lacks.
        TypeError: a callable template returned something that is not a string.
    """
    if callable(template):
        try:
            location = template(**dict(keys))
        except KeyError as err:
            name = getattr(template, "__name__", repr(template))
            raise _missing(name, err, keys, task_name) from None
        if not isinstance(location, str):
            raise TypeError(
                f"Task {task_name!r}: target {template!r} returned {location!r}; a callable "
                "target must return the location as a string."
            )
        return location
    if not has_fields(template):
        return template
    try:
        return template.format_map(keys)
    except KeyError as err:
        raise _missing(template, err, keys, task_name) from None
    except (IndexError, ValueError) as err:  # "{0}" or a bad format spec
        raise TargetTemplateError(template, f"{err}", sorted(keys), task_name) from None


def _missing(
    template: str, err: KeyError, keys: Mapping[str, Any], task_name: str | None
) -> TargetTemplateError:
    missing = str(err.args[0]) if err.args else "?"
    return TargetTemplateError(template, missing, sorted(map(str, keys)), task_name)
