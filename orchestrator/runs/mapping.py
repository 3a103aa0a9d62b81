"""Mapping: the rule that expands a mapped task into children, and its errors.

A mapped task has one child per element of its mapped inputs. With several mapped inputs
the children zip them, stopping at the shortest; ``unmapped`` arguments go to every child
whole, ``flatten`` ones map over the concatenation of their lists. The rule works on
lengths (never data), so a task runner can decide from small metadata. Both the DAG runner
and ``@flow`` maps expand through this module, so they agree and word their errors alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from taskrun.wire import ResultShape, is_mappable, mapped_length

_ADVICE = (
    "Map over a list or tuple, or wrap the argument in unmapped(...) if every child should "
    "receive it whole."
)


class MappingError(ValueError):
    """A mapped argument cannot be mapped over (not a sequence, or unknown length)."""

    def __init__(self, task_name: str, argument: str, problem: str) -> None:
        super().__init__(task_name, argument, problem)
        self.task_name, self.argument, self.problem = task_name, argument, problem

    def __str__(self) -> str:
        return f"{cannot_map(self.task_name, self.argument, self.problem)} {_ADVICE}"


def cannot_map(task_name: str, argument: str, problem: str) -> str:
    """The first sentence of every mapping error: which task, which argument, why."""
    return f"Task {task_name!r}: cannot map over argument {argument!r}: {problem}."


def count_children(task_name: str, lengths: Mapping[str, int]) -> int:
    """Children of a mapped task given each mapped argument's length: the shortest wins."""
    if not lengths:
        raise MappingError(task_name, "<none>", "no argument is mapped")
    return min(lengths.values())


def shape_problem(
    task_name: str, argument: str, upstream: str, shapes: Iterable[ResultShape]
) -> str | None:
    """Why an upstream result (one shape, or one per child of a mapped parent) cannot be
    mapped over, or None when every shape has a length. ``upstream`` names it for people
    (``task 'load'``, ``task run 'load-1f2e3d4c-3'``)."""
    shapes = list(shapes)
    if not all(s.successful for s in shapes):
        return cannot_map(task_name, argument, f"upstream {upstream} did not succeed")
    bad = next((s for s in shapes if s.length is None), None)
    if bad is not None:
        return f"{cannot_map(task_name, argument, str(bad.problem))} {_ADVICE}"
    return None


def constant_length(task_name: str, argument: str, value: Any, flattened: bool) -> int:
    """The length a constant mapped argument gives (its items, or all its lists' items:
    flattened, a scalar item counts as a list of one).

    Raises:
        MappingError: the value is not a sequence.
    """
    if not is_mappable(value):
        raise MappingError(task_name, argument, f"its value {value!r:.60} is not a sequence")
    return mapped_length(value, flattened)
