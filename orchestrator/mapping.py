"""Mapping: markers for mapped arguments and the pure rules that expand a mapped task.

A mapped task has one child per element of its mapped inputs. With several
mapped inputs the children zip them, stopping at the shortest. These functions
take lengths (never data), so the Dask runner can decide from small metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class unmapped:
    """Wraps an argument of ``task.map(...)`` that every child receives whole.

    >>> unmapped(5).value
    5
    """

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"unmapped({self.value!r})"


class flatten:
    """Wraps an argument of ``task.map(...)`` to map over the concatenation of its lists.

    ``task.map(x=flatten([[1], [2, 3]]))`` spawns three children: 1, 2 and 3.
    """

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"flatten({self.value!r})"


class MappingError(ValueError):
    """A mapped argument cannot be mapped over (not a sequence, or unknown length)."""

    def __init__(self, task_name: str, argument: str, problem: str) -> None:
        super().__init__(task_name, argument, problem)
        self.task_name, self.argument, self.problem = task_name, argument, problem

    def __str__(self) -> str:
        return (
            f"Task {self.task_name!r}: cannot map over argument {self.argument!r}: "
            f"{self.problem}. Map over a list or tuple, or wrap the argument in "
            f"unmapped(...) if every child should receive it whole."
        )


def count_children(task_name: str, lengths: Mapping[str, int]) -> int:
    """Children of a mapped task given each mapped argument's length: the shortest wins."""
    if not lengths:
        raise MappingError(task_name, "<none>", "no argument is mapped")
    return min(lengths.values())
