"""FlowGraph: the tasks and edges of a flow, indexed for reading.

``Flow`` builds on it; the runners and the graph algorithms read through it. Each task's
edges one way are held as nothing (no entry), the edge alone, or a list once there are
several, so a fan-out or chain of N calls does not hold N small lists. The topological order
is kept until a task or an edge is added.

Two flows are equal when they have the same name, the same task objects, the same edges and
the same reference tasks (Prefect 1's rule); a flow still hashes by identity. Iterating a
flow gives its tasks in topological order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import cast

from orchestrator.dag.edge import Edge
from orchestrator.dag.graph import GraphCycle, descendants, topological_order
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.task import Task
from orchestrator.errors import CycleError, FlowDefinitionError

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
        #: each task's slug in this flow: the one it was given, else ``{name}-{n}``, n counting
        #: the flow's tasks of that name in the order they were added (stable across builds)
        self.slugs: dict[Task, str] = {}
        self._slug_counts: dict[str, int] = {}
        self._slugs_taken: set[str] = set()

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, FlowGraph)
        return (
            self.name == other.name
            and self.tasks == other.tasks
            and self.edges == other.edges
            and self.reference_tasks() == other.reference_tasks()
        )

    __hash__ = object.__hash__  # flows are dict keys and weak-referenced by identity

    def __iter__(self) -> Iterator[Task]:
        """The tasks in topological order (``sorted_tasks()``)."""
        return iter(self.sorted_tasks())

    def _new_slug(self, task: Task) -> str:
        """The slug ``task`` gets in this flow (see ``FlowGraph.slugs``)."""
        if getattr(task, "_slug_given", False):
            if task.slug in self._slugs_taken:
                raise FlowDefinitionError(
                    self.name,
                    f"task {task.name!r} has slug {task.slug!r}, which another task of the "
                    "flow already has.",
                    "Give each task a unique slug, or none (the flow numbers them).",
                )
            self._slugs_taken.add(task.slug)
            return task.slug
        count = self._slug_counts.get(task.name, 0)
        slug = f"{task.name}-{count + 1}"
        while slug in self._slugs_taken:
            count += 1
            slug = f"{task.name}-{count + 1}"
        self._slug_counts[task.name] = count + 1
        self._slugs_taken.add(slug)
        return slug

    def _copy_slugs(self, new: FlowGraph) -> None:
        """Give the copy ``new`` this flow's slugs (and its slug counters)."""
        new.slugs = dict(self.slugs)
        new._slug_counts = dict(self._slug_counts)
        new._slugs_taken = set(self._slugs_taken)

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
        """The tasks set as such, or else the terminal tasks, where a resource's cleanup task
        does not count and its upstream tasks count as terminal (Prefect 1: a cleanup task
        never decides the flow's state; the block's last tasks do)."""
        return set(self._reference_tasks) or {t for t in self.tasks if self._is_last(t)}

    def _is_last(self, task: Task) -> bool:
        held = self._edges_from.get(task)
        if held is None:
            return not _is_cleanup(task)
        if isinstance(held, Edge):
            return _is_cleanup(held.downstream_task)
        return all(_is_cleanup(e.downstream_task) for e in held)

    def parameters(self) -> set[Parameter]:
        return set(self._parameters.values())

    def get_tasks(
        self,
        name: str | None = None,
        slug: str | None = None,
        tags: Iterable[str] | None = None,
        task_type: type | None = None,
    ) -> list[Task]:
        """The tasks (in the order added) matching every criterion given: ``name``, ``slug``
        (the flow's slug or the task's own), all of ``tags``, an instance of ``task_type``."""
        wanted = set(tags) if tags is not None else None
        return [
            t
            for t in self._order
            if (name is None or t.name == name)
            and (slug is None or slug in (self.slugs.get(t), t.slug))
            and (wanted is None or wanted <= t.tags)
            and (task_type is None or isinstance(t, task_type))
        ]

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


def _is_cleanup(task: Task) -> bool:
    """Whether ``task`` is a resource's cleanup task (``orchestrator.dag.resource_manager``)."""
    return getattr(type(task), "is_resource_cleanup", False) is True


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


def drop_edge(index: dict[Task, Edges], task: Task, edge: Edge) -> None:
    """Remove ``edge`` from ``task``'s entry of one of the edge indexes."""
    held = index.get(task)
    if isinstance(held, Edge):
        if held == edge:
            del index[task]
    elif held is not None:
        kept = [e for e in held if e != edge]
        if len(kept) > 1:
            index[task] = kept
        elif kept:
            index[task] = kept[0]
        else:
            del index[task]


def listed(held: Edges | None) -> list[Edge]:
    """``held`` as a list (a task's own list when it has several edges)."""
    if held is None:
        return []
    return [held] if isinstance(held, Edge) else held
