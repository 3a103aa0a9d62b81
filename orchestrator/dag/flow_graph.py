"""FlowGraph: the tasks and edges of a flow, indexed for reading.

``Flow`` builds on it; the runners and the graph algorithms read through it. Each task's
edges one way are held as nothing (no entry), the edge alone, or a list once there are
several, so a fan-out or chain of N calls does not hold N small lists. The topological order
is kept until a task or an edge is added.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from orchestrator.dag.edge import Edge
from orchestrator.dag.graph import GraphCycle, descendants, topological_order
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.task import Task
from orchestrator.errors import CycleError

#: a task's edges one way: the edge alone, or a list once there are several
Edges = Edge | list[Edge]


class FlowGraph:
    """The tasks, edges and indexes of a flow named ``name``; read-only methods."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: set[Task] = set()
        self.edges: set[Edge] = set()
        self._order: list[Task] = []  # insertion order, so runs are deterministic
        #: edges into / out of each task (see the module docstring)
        self._edges_to: dict[Task, Edges] = {}
        self._edges_from: dict[Task, Edges] = {}
        #: the topological order, kept until a task or an edge is added
        self._sorted: list[Task] | None = None
        self._parameters: dict[str, Parameter] = {}
        self._reference_tasks: set[Task] = set()

    def edges_to(self, task: Task) -> list[Edge]:
        return list(listed(self._edges_to.get(task)))

    def edges_from(self, task: Task) -> list[Edge]:
        return list(listed(self._edges_from.get(task)))

    def upstream_tasks(self, task: Task) -> set[Task]:
        return {e.upstream_task for e in listed(self._edges_to.get(task))}

    def downstream_tasks(self, task: Task) -> set[Task]:
        return {e.downstream_task for e in listed(self._edges_from.get(task))}

    def root_tasks(self) -> set[Task]:
        return {t for t in self.tasks if t not in self._edges_to}

    def terminal_tasks(self) -> set[Task]:
        return {t for t in self.tasks if t not in self._edges_from}

    def reference_tasks(self) -> set[Task]:
        return set(self._reference_tasks) or self.terminal_tasks()

    def parameters(self) -> set[Parameter]:
        return set(self._parameters.values())

    def get_tasks(self, name: str | None = None) -> list[Task]:
        return [t for t in self._order if name is None or t.name == name]

    def upstream_map(self) -> dict[Task, list[Task]]:
        """``{task: [upstream tasks]}`` in insertion order, for the graph algorithms."""
        edges_to = self._edges_to
        return {t: [e.upstream_task for e in listed(edges_to.get(t))] for t in self._order}

    def sorted_tasks(self, root_tasks: Iterable[Task] | None = None) -> list[Task]:
        """Tasks in an order that respects every edge (only downstream of ``root_tasks``)."""
        order = self._topological_order()
        if root_tasks is None:
            return list(order)
        keep = descendants(self.upstream_map(), root_tasks)
        return [t for t in order if t in keep]

    def _topological_order(self) -> list[Task]:
        """The order ``sorted_tasks`` gives, computed once per shape of the graph (a run
        validates, sorts and collects; each used to walk the whole graph again). Callers
        must not change the list."""
        if self._sorted is None:
            try:
                self._sorted = topological_order(self.upstream_map())
            except GraphCycle as cycle:
                names = [t.name for t in cast(list[Task], cycle.cycle)]
                raise CycleError(self.name, names) from None
        return self._sorted

    def _inputs(self, task: Task) -> list[Edge]:
        """The edges into ``task`` (may be the flow's own list: callers must not change it)."""
        return listed(self._edges_to.get(task))

    def _consumers(self, task: Task) -> list[Task]:
        """The distinct tasks downstream of ``task``, in edge order."""
        held = self._edges_from.get(task)
        if held is None or isinstance(held, Edge):
            return _NO_TASKS if held is None else [held.downstream_task]
        return list(dict.fromkeys(e.downstream_task for e in held))

    def _producers(self, task: Task) -> list[Task]:
        """The distinct tasks upstream of ``task``, in edge order."""
        held = self._edges_to.get(task)
        if held is None or isinstance(held, Edge):
            return _NO_TASKS if held is None else [held.upstream_task]
        return list(dict.fromkeys(e.upstream_task for e in held))


_NO_TASKS: list[Task] = []  # returned for "none" by the private readers: never changed


def append_edge(index: dict[Task, Edges], task: Task, edge: Edge) -> None:
    """Record ``edge`` under ``task`` in one of the edge indexes."""
    held = index.get(task)
    if held is None:
        index[task] = edge
    elif isinstance(held, Edge):
        index[task] = [held, edge]
    else:
        held.append(edge)


def listed(held: Edges | None) -> list[Edge]:
    """``held`` as a list (a task's own list when it has several edges)."""
    if held is None:
        return []
    return [held] if isinstance(held, Edge) else held
