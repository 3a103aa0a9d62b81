"""Flow: the DAG container. Tasks, the edges between them, constants and reference tasks.

Build it functionally (``with Flow("name") as f:`` and call tasks) or imperatively
(``add_task``, ``add_edge``, ``set_dependencies``). Building is cheap and checks
only local mistakes; ``validate()`` checks the whole graph (cycles included) and
runs before every flow run.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from orchestrator.dag import active
from orchestrator.dag.argument_checks import check_required_arguments, flow_value_error
from orchestrator.dag.collections import COLLECTION_TYPES, Constant, Dict, Flatten, GetItem
from orchestrator.dag.edge import Edge
from orchestrator.dag.flow_editing import FlowEditing
from orchestrator.dag.flow_graph import FlowGraph, append_edge, listed
from orchestrator.dag.flow_handlers import FlowStateHandler, check_flow_handlers
from orchestrator.dag.markers import unwrap
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.result_options import apply_flow_result
from orchestrator.dag.task import Dependency, Task
from orchestrator.dag.task_copies import argument_layout
from orchestrator.dag.task_options import check_flow_max_in_flight
from orchestrator.errors import FlowDefinitionError

if TYPE_CHECKING:
    from taskrun.states import State


class Flow(FlowGraph, FlowEditing):
    """A named DAG of tasks.

    >>> from orchestrator import task
    >>> @task
    ... def add(x, y):
    ...     return x + y
    >>> with Flow("add-example") as f:
    ...     total = add(x=1, y=2)
    >>> f.run().result()[total].result()
    3
    """

    def __init__(
        self,
        name: str,
        tasks: Iterable[Task] | None = None,
        edges: Iterable[Edge] | None = None,
        reference_tasks: Iterable[Task] | None = None,
        task_runner: Any = None,
        state_handlers: Iterable[FlowStateHandler] | None = None,
        on_failure: Callable[[Flow, State], Any] | None = None,
        terminal_state_handler: Callable[[Flow, State, set[State]], State | None] | None = None,
        result: Any = None,
        max_in_flight: int | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Flow needs a non-empty name, got {name!r}")
        super().__init__(name)
        #: mapped branches alive at once in each map of the flow (``runs/in_flight.py``)
        self.max_in_flight = check_flow_max_in_flight(name, max_in_flight)
        self.task_runner = task_runner
        #: called as handler(flow, old_state, new_state) on each flow-run transition
        self.state_handlers = check_flow_handlers(name, state_handlers, on_failure)
        #: called as on_failure(flow, state) when a flow run ends failed
        self.on_failure = on_failure
        #: ``fn(flow, state, reference_task_states)``: may replace a run's flow state
        self.terminal_state_handler = terminal_state_handler
        self.result = result  # the Result of tasks added without one (result_options)
        #: constant keyword arguments per task: values that are not tasks
        self.constants: dict[Task, dict[str, Any]] = {}
        #: argument keys bound by an edge, for tasks with many input edges (a scan of them
        #: per new edge would be O(N^2) for a collection task with N inputs)
        self._edge_keys: dict[Task, set[str]] = {}
        self._build_tokens: list[Any] = []
        for t in tasks or ():
            self.add_task(t)
        for e in edges or ():
            self.add_edge(
                e.upstream_task,
                e.downstream_task,
                key=e.key,
                mapped=e.mapped,
                flattened=e.flattened,
            )
        if reference_tasks:
            self.set_reference_tasks(reference_tasks)

    def __repr__(self) -> str:
        return f"<Flow: {self.name}>"

    # ---- functional API context -------------------------------------------------------------
    def __enter__(self) -> Flow:
        self._build_tokens.append(active.building_flow.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        active.building_flow.reset(self._build_tokens.pop())

    # ---- building -------------------------------------------------------------------------------
    def add_task(self, task: Task) -> Task:
        """Add ``task`` as is (no copy); adding it twice is harmless."""
        if not isinstance(task, Task):
            raise TypeError(
                f"Flow {self.name!r}: add_task needs a Task, got {task!r}. "
                f"Wrap plain values in Constant(...)."
            )
        if task in self.tasks:
            return task
        if isinstance(task, Parameter):
            other = self._parameters.get(task.name)
            if other is not None and other is not task:
                raise FlowDefinitionError(
                    self.name,
                    f"two different parameters are named {task.name!r}.",
                    "Give each Parameter a unique name, or reuse one object.",
                )
            self._parameters[task.name] = task
        if not isinstance(task, Parameter):  # Flow(result=): the default of its tasks
            apply_flow_result(task, self.result)
        self.slugs[task] = self._new_slug(task)
        self.tasks.add(task)
        self._order.append(task)
        self._sorted = None
        task._flow_ref = weakref.ref(self)  # one shared ref object: CPython reuses it
        for block in active.recording_blocks.get():  # open case / resource blocks
            block.add_task(task, self)
        if task.dependencies:
            self.resolve_dependencies(task)
        return task

    def add_edge(
        self,
        upstream_task: Task,
        downstream_task: Task,
        key: str | None = None,
        mapped: bool = False,
        flattened: bool = False,
        validate: bool | None = None,
    ) -> Edge:
        """Add ``upstream_task -> downstream_task`` (adding both tasks when needed); with
        ``validate=True`` an edge closing a cycle is refused at once (``CycleError``)."""
        edge = self._link(upstream_task, downstream_task, key, mapped, flattened)
        if validate:
            self._refuse_cycle(edge)
        return edge

    def _link(
        self,
        upstream_task: Task,
        downstream_task: Task,
        key: str | None = None,
        mapped: bool = False,
        flattened: bool = False,
        check: bool = True,
    ) -> Edge:
        """``add_edge``; ``check=False`` when ``key`` is known to be free and accepted."""
        if upstream_task not in self.tasks:
            self.add_task(upstream_task)
        if downstream_task not in self.tasks:
            self.add_task(downstream_task)
        edge = Edge(upstream_task, downstream_task, key, mapped, flattened)
        if edge in self.edges:
            return edge
        if key is not None and check:
            self._check_argument(downstream_task, key)
        self.edges.add(edge)
        self._sorted = None
        append_edge(self._edges_to, downstream_task, edge)
        if key is not None and downstream_task in self._edge_keys:
            self._edge_keys[downstream_task].add(key)
        append_edge(self._edges_from, upstream_task, edge)
        return edge

    def _check_argument(self, task: Task, key: str) -> None:
        if key in self.constants.get(task, ()) or self._bound_by_edge(task, key):
            raise FlowDefinitionError(
                self.name,
                f"task {task.name!r} already has an input for argument {key!r}.",
                "Bind each argument once.",
            )
        if not argument_layout(task).accepts(key):
            raise FlowDefinitionError(
                self.name,
                f"task {task.name!r} has no argument {key!r}; its "
                f"run() signature is {task.signature}.",
            )

    def _bound_by_edge(self, task: Task, key: str) -> bool:
        edges = listed(self._edges_to.get(task))
        if len(edges) < _SCAN_LIMIT:
            return any(e.key == key for e in edges)
        keys = self._edge_keys.get(task)
        if keys is None:
            keys = self._edge_keys[task] = {e.key for e in edges if e.key is not None}
        return key in keys

    def set_dependencies(
        self,
        task: Task,
        upstream_tasks: Iterable[Any] | None = None,
        downstream_tasks: Iterable[Task] | None = None,
        keyword_tasks: Mapping[str, Any] | None = None,
        mapped: bool = False,
        validate: bool | None = None,
    ) -> None:
        """Add ``task`` with its upstream tasks, downstream tasks and keyword inputs.

        Keyword values that are tasks become data edges; collections become collection
        tasks; other values are stored as constants. With ``mapped=True`` every input
        is mapped over unless wrapped in ``unmapped(...)``.
        """
        self.add_task(task)
        for upstream in upstream_tasks or ():
            is_mapped, flat, value = unwrap(upstream, mapped)
            source = self.as_task(value)  # a plain value becomes a Constant (Prefect 1)
            self.add_edge(source, task, key=None, mapped=is_mapped, flattened=flat)
        for downstream in downstream_tasks or ():
            self.add_edge(task, downstream)
        for key, raw in (keyword_tasks or {}).items():
            self._bind_input(task, key, raw, mapped)
        if validate:
            self.validate()

    def _bind_input(self, task: Task, key: str, raw: Any, mapped: bool, check: bool = True) -> None:
        """One keyword input of ``task``: an edge from the task standing for ``raw``, or a
        constant. ``check=False`` when ``key`` is known to be free and accepted."""
        if not mapped:  # the common cases first: another task's result, or a plain value
            if isinstance(raw, Task):
                self._link(raw, task, key, check=check)
                return
            if type(raw) in _PLAIN_VALUES:
                if check:
                    self._check_argument(task, key)
                self.constants.setdefault(task, {})[key] = raw
                return
        is_mapped, flat, value = unwrap(raw, mapped)
        if isinstance(value, FlowGraph):  # it would become a constant, never run
            raise flow_value_error(self.name, task.name, key, value)
        if flat and not is_mapped:  # a reducing consumer gets the concatenation
            flattener = self.add_task(Flatten(name=f"flatten[{key}]"))
            self._bind_input(flattener, "value", value, mapped=False, check=False)
            self._link(flattener, task, key, check=check)
            return
        if _is_taskish(value) or is_mapped:
            source = self.as_task(value if not is_mapped or _is_taskish(value) else Constant(value))
            self._link(source, task, key, is_mapped, flat, check)
        else:
            if check:
                self._check_argument(task, key)
            self.constants.setdefault(task, {})[key] = value

    def as_task(self, value: Any, context: str = "") -> Task:
        """The task standing for ``value``: tasks as they are, collections as collection tasks."""
        if isinstance(value, Task):
            return self.add_task(value)
        if isinstance(value, Dependency):
            if value.key is None:
                return self.add_task(value.task)
            return GetItem(name=f"{value.task.name}[{value.key!r}]").bind(
                task_result=self.add_task(value.task), key=value.key, flow=self
            )
        if isinstance(value, dict):
            return Dict().bind(keys=list(value.keys()), values=list(value.values()), flow=self)
        for kind, collection_task in COLLECTION_TYPES.items():
            if isinstance(value, kind):  # its inputs arg_0 .. arg_n, each new: no checks
                collector = self.add_task(collection_task())
                for i, item in enumerate(cast(Iterable[Any], value)):
                    self._bind_input(collector, f"arg_{i}", item, mapped=False, check=False)
                return collector
        if context:
            raise TypeError(f"Flow {self.name!r}: {context} must be tasks, got {value!r}.")
        return self.add_task(Constant(value))

    def resolve_dependencies(self, task: Task) -> None:
        """Turn ``task``'s declared ``Dependency`` objects into edges of this flow."""
        for dependency in task.dependencies:
            upstream = self._find_copy(dependency.task)
            already = any(e.upstream_task is upstream for e in listed(self._edges_to.get(task)))
            if not already:
                self.add_edge(upstream, task)

    def _find_copy(self, template: Task) -> Task:
        """``template`` if in the flow, else its most recently added copy, else add it."""
        if template in self.tasks:
            return template
        for candidate in reversed(self._order):
            if candidate._template is template._template:
                return candidate
        return self.add_task(template)

    def set_reference_tasks(self, tasks: Iterable[Task]) -> None:
        """Decide the flow's state by these tasks instead of the terminal tasks."""
        chosen = set(tasks)
        unknown = [t.name for t in chosen if t not in self.tasks]
        if unknown:
            raise FlowDefinitionError(
                self.name,
                f"reference tasks {sorted(unknown)} are not in the flow.",
                "Add them first (call them inside the flow).",
            )
        self._reference_tasks = chosen

    def validate(self) -> None:
        """Check the whole DAG; raise a ``FlowDefinitionError`` naming what is wrong.

        Checks every edge's ends, cycles, the reference tasks, and that every required
        argument of each task's ``run()`` is bound by an edge or a constant.
        """
        for edge in self.edges:
            for end in (edge.upstream_task, edge.downstream_task):
                if end not in self.tasks:
                    raise FlowDefinitionError(
                        self.name,
                        f"edge {edge!r} names task {end.name!r}, which is not in the flow.",
                        "Add it with add_task().",
                    )
        self._topological_order()  # raises CycleError naming a cycle
        for task in self._reference_tasks - self.tasks:
            raise FlowDefinitionError(
                self.name, f"reference task {task.name!r} is not in the flow."
            )
        check_required_arguments(self)

    def copy(self) -> Flow:
        """A shallow copy: same task objects, separate graph containers."""
        new = Flow(
            self.name,
            task_runner=self.task_runner,
            state_handlers=self.state_handlers,
            on_failure=self.on_failure,
            terminal_state_handler=self.terminal_state_handler,
            max_in_flight=self.max_in_flight,
        )
        for t in self._order:
            new.add_task(t)
        position = {t: i for i, t in enumerate(self._order)}
        for e in sorted(self.edges, key=lambda e: position[e.downstream_task]):
            new.add_edge(e.upstream_task, e.downstream_task, e.key, e.mapped, e.flattened)
        new.constants = {t: dict(c) for t, c in self.constants.items()}
        new._reference_tasks = set(self._reference_tasks)
        self._copy_slugs(new)
        return new

    # ---- running ------------------------------------------------------------------------------
    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        task_runner: Any = None,
        context: Mapping[str, Any] | None = None,
        task_states: Mapping[Task, State] | None = None,
        start_tasks: Iterable[Task] | None = None,
        return_tasks: Iterable[Task] | None = None,
        executor: Any = None,
        **run_options: Any,
    ) -> State:
        """Run the flow once and return its final state; ``result()`` maps tasks to states.

        Never blocks on a paused task: the run returns ``Paused`` at once. Resume with
        ``f.run(task_states={**paused.result(), t: Resume()}, start_tasks=[t])``: the given
        finished states are kept and their results feed ``t``. See ``FlowRunner.run``.
        ``executor=`` is Prefect 1's name for ``task_runner=`` (give one of them).
        """
        from orchestrator.runs.flow_runner import FlowRunner
        from orchestrator.task_runners.choice import runner_or_executor

        return FlowRunner(flow=self).run_to_completion(
            parameters=parameters,
            task_runner=runner_or_executor(self.name, task_runner, executor),
            context=context,
            task_states=task_states,
            start_tasks=start_tasks,
            return_tasks=return_tasks,
            **run_options,
        )

    def visualize(self, flow_state: State | None = None, filename: str | None = None) -> Any:
        """Draw the DAG with graphviz, coloured by ``flow_state``; write ``filename`` if given.

        See ``orchestrator.visualize.visualize``; needs ``pip install 'orchestrator[viz]'``.
        """
        from orchestrator.visualize import visualize

        return visualize(self, flow_state=flow_state, filename=filename)


def _is_taskish(value: Any) -> bool:
    return isinstance(value, (Task, Dependency, dict, *COLLECTION_TYPES))


#: types of values that are constants as they are (never tasks, collections or markers)
_PLAIN_VALUES = frozenset({int, float, complex, str, bytes, bool, type(None)})
#: input edges up to which a key check scans them rather than keep a set of their keys
_SCAN_LIMIT = 8
