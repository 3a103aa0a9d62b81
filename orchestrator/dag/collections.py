"""Built-in tasks that hold values: collections, constants and item lookups.

Python collections passed to a task inside a flow become these tasks, so a list
of task results turns into one upstream the consumer can wait on. ``Constant``
stops that: its value is used as is, with no further introspection.
"""

from __future__ import annotations

from typing import Any

from orchestrator.dag.task import GetItem as GetItem  # lives with Task: task[key] builds it
from orchestrator.dag.task import Task
from taskrun.wire import flat_items, is_mappable


def _ordered(kwargs: dict[str, Any]) -> list[Any]:
    """Values of ``arg_0 .. arg_n`` in index order."""
    return [kwargs[k] for k in sorted(kwargs, key=lambda key: int(key.rsplit("_", 1)[1]))]


class List(Task):
    """Collects its ``arg_i`` inputs into a list."""

    def run(self, **kwargs: Any) -> list[Any]:
        return _ordered(kwargs)


class Tuple(Task):
    """Collects its ``arg_i`` inputs into a tuple."""

    def run(self, **kwargs: Any) -> tuple[Any, ...]:
        return tuple(_ordered(kwargs))


class Set(Task):
    """Collects its ``arg_i`` inputs into a set."""

    def run(self, **kwargs: Any) -> set[Any]:
        return set(_ordered(kwargs))


class Dict(Task):
    """Builds a dict from a list of keys and a list of values."""

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, keys: list[Any], values: list[Any]) -> dict[Any, Any]:  # type: ignore[override]
        return dict(zip(keys, values, strict=True))


class Flatten(Task):
    """Returns the concatenation of a list of lists (a scalar item counts as a list of one):
    what a non-mapped ``consumer(x=flatten(lists))`` receives."""

    # each task's run() has its own signature (flows bind arguments by name)
    def run(self, value: Any) -> list[Any]:  # type: ignore[override]
        if not is_mappable(value):
            raise TypeError(
                f"Task {self.name!r}: flatten() needs a list of lists, got {value!r:.60}."
            )
        return flat_items(value)


class Constant(Task):
    """A task returning ``value`` unchanged; its shown name records the value's type.

    >>> Constant({"x": 1})
    <Task: Constant[dict]>
    """

    def __init__(self, value: Any, name: str | None = None, **kwargs: Any) -> None:
        self.value = value
        super().__init__(name=name or f"Constant[{type(value).__name__}]", **kwargs)

    def run(self) -> Any:
        return self.value


COLLECTION_TYPES: dict[type, type[Task]] = {list: List, tuple: Tuple, set: Set, frozenset: Set}
