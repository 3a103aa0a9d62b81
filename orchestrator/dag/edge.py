"""Edge: one dependency between two tasks of a flow.

An edge with a ``key`` passes the upstream result as that keyword argument;
without one it only orders the tasks. ``mapped`` edges give each child of the
downstream task one element of the upstream result; ``flattened`` ones map over
the concatenation of a list of lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.dag.task import Task


class Edge:
    """A directed dependency ``upstream_task -> downstream_task``; compared by value."""

    __slots__ = ("downstream_task", "flattened", "key", "mapped", "upstream_task")

    def __init__(
        self,
        upstream_task: Task,
        downstream_task: Task,
        key: str | None = None,
        mapped: bool = False,
        flattened: bool = False,
    ) -> None:
        if key is not None and not isinstance(key, str):
            raise TypeError(f"Edge key must be an argument name (str) or None, got {key!r}")
        self.upstream_task = upstream_task
        self.downstream_task = downstream_task
        self.key = key
        self.mapped = mapped
        self.flattened = flattened

    def _identity(self) -> tuple[Any, ...]:
        return (
            id(self.upstream_task),
            id(self.downstream_task),
            self.key,
            self.mapped,
            self.flattened,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Edge) and self._identity() == other._identity()

    def __hash__(self) -> int:  # _identity() inlined: a flow hashes each new edge twice
        return hash(
            (
                id(self.upstream_task),
                id(self.downstream_task),
                self.key,
                self.mapped,
                self.flattened,
            )
        )

    def __repr__(self) -> str:
        arrow = f" -[{self.key}]->" if self.key else " ->"
        marks = "".join(
            (" (mapped)" if self.mapped else "", " (flattened)" if self.flattened else "")
        )
        return f"<Edge: {self.upstream_task.name}{arrow} {self.downstream_task.name}{marks}>"

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
