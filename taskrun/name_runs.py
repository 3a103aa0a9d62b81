"""``NameRuns``: task-run names in order, stored as runs of one prefix and counting numbers.

A ``@flow`` that passes a list of futures to a task (``total(add_one.map(xs))``) gives its
edge one label per future, so trigger messages name each upstream run. Those labels travel
to the worker in the task's plan; a map's children are named ``add_one-1f2e3d4c-0`` ..
``add_one-1f2e3d4c-999999``, and a million of them as strings were tens of megabytes of graph
for Dask to pickle and ship. As runs of (prefix, first number, count) they are a few
strings, and they still read as the sequence of names they stand for.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

#: (prefix, first number, count); a name that does not end in a number is (name, -1, 1)
Run = tuple[str, int, int]


class NameRuns(Sequence[str]):
    """The names ``compact_names`` was given, in order (a ``Sequence`` of ``str``).

    >>> names = compact_names(["a-0", "a-1", "a-2", "total", "b-7"])
    >>> list(names), len(names), names[1], names[-1]
    (['a-0', 'a-1', 'a-2', 'total', 'b-7'], 5, 'a-1', 'b-7')
    >>> names.runs
    (('a-', 0, 3), ('total', -1, 1), ('b-', 7, 1))
    """

    __slots__ = ("_ends", "runs")

    def __init__(self, runs: Iterable[Run]) -> None:
        self.runs: tuple[Run, ...] = tuple(runs)
        self._ends = list(itertools.accumulate(count for _, _, count in self.runs))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        length = len(self)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(index)
        at = bisect.bisect_right(self._ends, index)
        prefix, first, count = self.runs[at]
        offset = index - (self._ends[at] - count)
        return prefix if first < 0 else f"{prefix}{first + offset}"

    def __iter__(self) -> Iterator[str]:
        for prefix, first, count in self.runs:
            if first < 0:
                yield prefix
            else:
                yield from (f"{prefix}{number}" for number in range(first, first + count))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NameRuns):
            return self.runs == other.runs
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.runs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (NameRuns, (self.runs,))

    def __repr__(self) -> str:
        return f"NameRuns({len(self)} names in {len(self.runs)} runs)"


def compact_names(names: Sequence[str]) -> NameRuns:
    """``names`` as runs: consecutive names of one prefix whose numbers count up by one."""
    runs: list[list[Any]] = []
    for name in names:
        head, dash, tail = name.rpartition("-")
        number = int(tail) if dash and tail.isdigit() and tail == str(int(tail)) else -1
        prefix = head + dash if number >= 0 else name
        if runs and number >= 0:
            last = runs[-1]
            if last[1] >= 0 and last[0] == prefix and last[1] + last[2] == number:
                last[2] += 1
                continue
        runs.append([prefix, number, 1])
    return NameRuns((prefix, first, count) for prefix, first, count in runs)
