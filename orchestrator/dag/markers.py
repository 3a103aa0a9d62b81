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
    """Wraps an argument of ``task.map(...)`` to map over the concatenation of its lists.

    ``task.map(x=flatten([[1], [2, 3]]))`` spawns three children: 1, 2 and 3.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"flatten({self.value!r})"
