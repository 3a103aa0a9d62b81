"""Editing a built flow: ``update`` (merge another flow), ``replace`` (swap a task), ``chain``.

They are Prefect 1's flow-editing methods, a mixin of ``Flow``:

- ``f.update(other)`` adds every task, edge and constant of ``other`` (the same task
  objects); with ``merge_parameters=True`` a parameter of ``other`` whose name this flow
  already uses is replaced by this flow's parameter.
- ``f.replace(old, new)`` puts ``new`` (a task, or a value made a ``Constant``) where
  ``old`` was: the edges, constants, reference-task mark and slug of ``old`` move to
  ``new``, except inputs that ``new``'s ``run()`` does not take (a ``Constant`` takes none).
- ``f.chain(a, b, c)`` adds ``a -> b -> c`` (state dependencies) and returns the edges.

Each takes ``validate=``: True checks the whole flow (``Flow.validate``) when done.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, cast

from orchestrator.dag.flow_graph import drop_edge
from orchestrator.dag.task_copies import argument_layout
from orchestrator.errors import CycleError, FlowDefinitionError

if TYPE_CHECKING:
    from orchestrator.dag.edge import Edge
    from orchestrator.dag.flow import Flow
    from orchestrator.dag.task import Task


class FlowEditing:
    """``update``, ``replace`` and ``chain`` for ``Flow``."""

    def update(
        self, flow: Flow, merge_parameters: bool = False, validate: bool | None = None
    ) -> None:
        """Add all tasks, edges and constants of ``flow`` to this flow.

        With ``merge_parameters``, each parameter of ``flow`` named like one of this flow's
        is replaced, in what is added, by this flow's parameter (else two parameters of
        one name are an error).
        """
        this = cast("Flow", self)
        mine = {p.name: p for p in this.parameters()} if merge_parameters else {}
        theirs = set(flow._parameters.values())

        def own(task: Task) -> Task:
            return mine.get(task.name, task) if task in theirs else task

        for task in flow._order:
            this.add_task(own(task))
        for task in flow._order:  # edges in the order they were added: runs stay repeatable
            for edge in flow.edges_to(task):
                this._link(
                    own(edge.upstream_task), own(task), edge.key, edge.mapped, edge.flattened,
                    check=False,
                )  # fmt: skip
        for task, constants in flow.constants.items():
            this.constants.setdefault(own(task), {}).update(constants)
        if validate:
            this.validate()

    def replace(self, old: Task, new: Any, validate: bool = True) -> None:
        """Put ``new`` where ``old`` is: its edges, constants, reference mark and slug."""
        this = cast("Flow", self)
        if old not in this.tasks:
            raise FlowDefinitionError(
                this.name,
                f"replace(): task {old.name!r} is not in the flow.",
                "Pass a task of this flow (flow.get_tasks(name=...) finds one).",
            )
        new_task = this.as_task(new) if new is not old else old
        if new_task is old:
            return
        moved = this.edges_to(old) + this.edges_from(old)
        for edge in moved:
            this._unlink(edge)
        this.tasks.discard(old)
        this._order.remove(old)
        slug = this.slugs.pop(old, None)
        this._slugs_taken.discard(slug or "")
        if this._parameters.get(old.name) is old:
            del this._parameters[old.name]
        this.add_task(new_task)
        if slug is not None and not getattr(new_task, "_slug_given", False):
            this._slugs_taken.discard(this.slugs[new_task])
            this.slugs[new_task] = slug  # the replacement answers to the old slug
            this._slugs_taken.add(slug)
        takes = argument_layout(new_task).accepts
        for edge in moved:
            up = new_task if edge.upstream_task is old else edge.upstream_task
            down = new_task if edge.downstream_task is old else edge.downstream_task
            if down is new_task and edge.key is not None and not takes(edge.key):
                continue
            this._link(up, down, edge.key, edge.mapped, edge.flattened, check=False)
        constants = {k: v for k, v in this.constants.pop(old, {}).items() if takes(k)}
        if constants:
            this.constants.setdefault(new_task, {}).update(constants)
        if old in this._reference_tasks:
            this._reference_tasks = (this._reference_tasks - {old}) | {new_task}
        this._sorted = None
        if validate:
            this.validate()

    def chain(self, *tasks: Task, validate: bool | None = None) -> list[Edge]:
        """Add ``tasks[0] -> tasks[1] -> ...`` (no data passed); returns the edges."""
        this = cast("Flow", self)
        edges = [
            this.add_edge(upstream, downstream, validate=validate)
            for upstream, downstream in itertools.pairwise(tasks)
        ]
        if len(tasks) == 1:
            this.add_task(tasks[0])
        return edges

    def _refuse_cycle(self, edge: Edge) -> None:
        """Raise ``CycleError`` (removing ``edge`` again) if ``edge`` closed a cycle."""
        this = cast("Flow", self)
        try:
            this._topological_order()
        except CycleError:
            this._unlink(edge)
            raise

    def _unlink(self, edge: Edge) -> None:
        """Remove ``edge`` from the flow and its indexes (the tasks stay)."""
        this = cast("Flow", self)
        this.edges.discard(edge)
        drop_edge(this._edges_to, edge.downstream_task, edge)
        drop_edge(this._edges_from, edge.upstream_task, edge)
        keys = this._edge_keys.get(edge.downstream_task)
        if keys is not None and edge.key is not None:
            keys.discard(edge.key)
        this._sorted = None
