"""Markers for the arguments of ``task.map(...)``: ``unmapped`` and ``flatten``.

They only say how an argument is to be mapped; ``orchestrator.runs.mapping`` owns the rule
that expands a mapped task into children.
"""

from __future__ import annotations

from typing import Any


class unmapped:
    """Wraps an argument of ``task.map(...)`` that every child receives whole.

    >>> unmapped(5).value
    5
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"unmapped({self.value!r})"


class flatten:
    """Wraps an argument to stand for the concatenation of its lists.

    ``task.map(x=flatten([[1], [2, 3]]))`` spawns three children: 1, 2 and 3. An item that
    is not a list (a scalar, or a string) counts as a list of one: ``flatten([[1], 2])`` is
    ``[1, 2]``. Given to a task that is not mapped (``total(flatten(children))``), the task
    receives the concatenated list.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"flatten({self.value!r})"


def unwrap(value: Any, mapped: bool) -> tuple[bool, bool, Any]:
    """(is mapped, is flattened, bare value) for one argument of a task call in a flow."""
    if isinstance(value, unmapped):
        return False, False, value.value
    if isinstance(value, flatten):
        return mapped, True, value.value
    return mapped, False, value
