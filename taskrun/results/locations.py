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

import string
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from taskrun.results.errors import TargetTemplateError

#: a location as given: a ``str.format`` template, or ``location(**keys) -> str``
LocationTemplate: TypeAlias = str | Callable[..., str]

_formatter = string.Formatter()


def location_keys(
    context: Mapping[str, Any], parameters: Mapping[str, Any], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """The keys a location template may name, later layers winning."""
    return {**context, **parameters, **inputs}


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
            location = template(**keys)
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
