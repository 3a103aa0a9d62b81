"""One pass through a DAG flow: every task submitted once, in topological order.

Tasks are submitted with their upstream *handles*, so a backend that runs asynchronously
(threads, Dask) starts each task run as soon as its upstream is done, with no round trip
through this loop. The loop itself only waits where it must: before expanding a mapped
task, for the length of what it maps over. At the end it collects every task's state.

    for task in sorted tasks:
        given state?          -> finished, Paused, Running: handle of that state
        mapped?               -> wait for mapped upstream shapes -> one call per child
                                 (a given Mapped state: only its unfinished or missing ones)
        otherwise             -> one call
        bounded mapped levels -> branch by branch, at most max_in_flight alive (in_flight)
    collect states

``FlowRunner`` (``runs/flow_runner.py``) decides the flow state from them, and runs
another pass when tasks wait for a start time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from orchestrator.dag.edge import Edge
from orchestrator.dag.task import Task
from orchestrator.runs.in_flight import (
    BranchGroup,
    find_branch_group,
    is_bounded,
    submit_branches,
)
from orchestrator.runs.mapping import shape_problem
from orchestrator.runs.naming import task_run_name, task_run_prefix, task_token
from orchestrator.runs.scheduler import ChildRefs, Handles, upstream_refs
from orchestrator.runs.single_task import TaskRunner
from orchestrator.runs.target_probe import existing_targets
from orchestrator.runs.task_run_names import submitted_name
from orchestrator.task_runners.base import AnyTaskRunner, ChildCalls
from taskrun.gc_pause import gc_paused
from taskrun.states import Pending, State
from taskrun.wire import TaskRunCall, reduce_state

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow


class DagPass:
    """The bookkeeping of one pass: a handle per task, in submission order."""

    def __init__(
        self,
        flow: Flow,
        runner: AnyTaskRunner,
        keys: dict[str, Any],
        task_states: dict[Task, State],
        start_tasks: Iterable[Task] | None,
        task_runner_state_handlers: Iterable[Any] | None = None,
    ) -> None:
        self.flow, self.runner, self.keys, self.task_states = flow, runner, keys, task_states
        #: ``handler(task_runner, old, new)`` for every task run (``runner_handlers``)
        self.runner_handlers = list(task_runner_state_handlers or ())
        #: what each task's runs execute, with those handlers: one object per task
        self.runnables: dict[Task, Any] = {}
        self.start = set(start_tasks or ())
        #: every task in topological order (the flow's own list: not to be changed)
        self.every = flow._topological_order()
        self.order = flow.sorted_tasks(root_tasks=self.start) if self.start else self.every
        self.handles: dict[Task, Handles] = {}
        #: per upstream task: consumers not submitted yet
        self.consumers_left: dict[Task, int] = {}

    def execute(self) -> dict[Task, State]:
        """Submit every task (the runner may send short runs together: ``gathering``), then
        collect every task's state."""
        with self.runner.gathering():
            return self._execute()

    def _execute(self) -> dict[Task, State]:
        flow, handles = self.flow, self.handles
        if self.start:
            running = set(self.order)
            for task in self.every:  # upstream of start tasks: not run, known from task_states
                if task not in running:
                    state = self.task_states.get(task) or _not_run(task)
                    handles[task] = self.given(state) or self.runner.given(state)
        self.consumers_left = {}  # a pass starts afresh (FlowRunner may run several)
        bounded = not self.start and is_bounded(flow)  # maps run branch by branch?
        grouped: set[Task] = set()  # submitted ahead of their place in the order
        for position, task in enumerate(self.order):
            if task in grouped:
                continue
            group = self.branch_group(task, position) if bounded else None
            if group is None:
                handles[task] = self.submit(task)
                self.submitted(task)
                continue
            for before in group.before:
                handles[before] = self.submit(before)
                self.submitted(before)
            self.submit_group(group)
            for member in group.members:
                self.submitted(member)
            grouped.update(group.before, group.members)
        return {task: self.collect(handles[task]) for task in self.every}

    def submitted(self, task: Task) -> None:
        """``task`` is submitted: release what nothing will read any more."""
        flow, consumers = self.flow, self.consumers_left
        if not flow._consumers(task):  # nothing will read it: its state holds the rest
            self.runner.release(self.handles[task])
        for upstream in flow._producers(task):  # its last consumer is submitted?
            left = consumers.get(upstream)
            left = (len(flow._consumers(upstream)) if left is None else left) - 1
            consumers[upstream] = left
            if left == 0:
                self.runner.release(self.handles[upstream])

    def branch_group(self, task: Task, position: int) -> BranchGroup | None:
        given = self.task_states if self.task_states else ()
        return find_branch_group(self.flow, task, self.order, position, given)

    def submit_group(self, group: BranchGroup) -> None:
        """The levels of ``group`` branch by branch (``runs/in_flight.py``); as usual when
        the head cannot expand (each level then fails or waits as it would)."""
        head = group.head
        lengths, problem = self.measure(head, [e for e in self.flow._inputs(head) if e.mapped])
        if problem is not None:
            for member in group.members:
                self.handles[member] = self.submit(member)
            return
        count = min(lengths) if lengths else 0

        def build(task: Task, refs: Any, map_index: int, name: str) -> TaskRunCall:
            return self.call(task, refs, map_index, None, False, name=name)

        submit_branches(group, count, self.flow, self.runner, self.handles, build)

    def submit(self, task: Task) -> Handles:
        initial = self.task_states.get(task) if self.task_states else None
        earlier: list[State] = []  # children of a given mapped state, reused where finished
        if initial is not None and (initial.is_paused() or initial.is_running()):
            return self.runner.given(initial)  # paused until resumed; running elsewhere
        edges = self.flow._inputs(task)
        mapped = [e for e in edges if e.mapped] if edges else edges
        given_mapped = None  # a given Mapped state: measured again, children may be missing
        if initial is not None and initial.is_finished():
            if mapped and initial.is_mapped() and initial.map_states:
                given_mapped = initial
            else:
                handles = self.given(initial)
                if handles is not None:
                    return handles
            earlier = initial.map_states
            initial = None
        is_start = task in self.start
        if not mapped or (initial is not None and initial.is_resume()):
            return self.runner.submit(
                self.call(task, upstream_refs(edges, self.handles), None, initial, is_start)
            )
        return self.expand(task, edges, mapped, initial, is_start, earlier, given_mapped)

    def expand(
        self,
        task: Task,
        edges: Sequence[Edge],
        mapped: list[Edge],
        initial: State | None,
        is_start: bool,
        earlier: list[State],
        given_mapped: State | None,
    ) -> Handles:
        """A mapped task's children, reusing the kept ones of ``earlier`` (the children of a
        given ``Mapped`` state); one failing run when it cannot expand."""
        lengths, problem = self.measure(task, mapped)
        if problem is not None:
            kept = self.given(given_mapped) if given_mapped is not None else None
            if kept is not None:  # what it maps over is not known here: keep what was given
                return kept
            parent = upstream_refs(edges, self.handles)
            call = self.call(task, parent, None, initial, is_start, mapping_problem=problem)
            return self.runner.submit(call)
        count = min(lengths) if lengths else 0
        earlier = earlier[:count]  # children past the given ones run anew
        refs, prefix = ChildRefs(edges, self.handles), task_run_prefix(task)
        with gc_paused():  # a fully cached map makes a state and a handle per child here
            found = self.existing_targets(task, edges, count, earlier, is_start)

        def child_call(i: int) -> TaskRunCall:
            earlier_state = earlier[i] if i < len(earlier) else None
            return self.call(task, refs.refs(i), i, earlier_state, False, name=f"{prefix}{i}")

        if self.runner.submits_in_bulk:
            with gc_paused() if found else nullcontext():  # a handle per hit child, at once
                return self.submit_children(task, count, earlier, child_call, found)
        children: list[Any] = []
        for i in range(count):
            if i < len(earlier) and _is_kept(earlier[i]):
                children.append(self.runner.given(earlier[i]))
            elif i in found:
                children.append(self.runner.given_run(task.name, f"{prefix}{i}", i, found[i]))
            else:
                children.append(self.runner.submit(child_call(i)))
            self.handles[task] = children  # progress displays see children as they are submitted
        return children

    def submit_children(
        self,
        task: Task,
        count: int,
        earlier: list[State],
        child_call: Callable[[int], TaskRunCall],
        found: dict[int, State],
    ) -> list[Any]:
        """A mapped task's children in one ``submit_many`` (backends that batch them)."""
        children: list[Any] = [None] * count
        indexes = []
        prefix = task_run_prefix(task) if found else ""
        for i in range(count):
            if i < len(earlier) and _is_kept(earlier[i]):
                children[i] = self.runner.given(earlier[i])
            elif i in found:
                children[i] = self.runner.given_run(task.name, f"{prefix}{i}", i, found[i])
            else:
                indexes.append(i)
        calls = ChildCalls(task, len(indexes), lambda position: child_call(indexes[position]))
        for i, handle in zip(indexes, self.runner.submit_many(calls), strict=True):
            children[i] = handle
        return children

    def existing_targets(
        self, task: Task, edges: Sequence[Edge], count: int, earlier: list[State], is_start: bool
    ) -> dict[int, State]:
        """``Cached`` states of the children whose target exists, when this process can
        tell before submitting them (``runs/target_probe.py``); else none."""
        if getattr(task, "target", None) is None or not self.runner.shares_local_storage:
            return {}
        if self.runner_handlers or is_start or getattr(task, "task_run_name", None) is not None:
            return {}
        if any(edge.flattened for edge in self.flow.edges_from(task)):
            return {}
        upstream: list[State] = []
        for edge in edges:
            source = self.handles[edge.upstream_task]
            for handle in source if isinstance(source, list) else (source,):
                state = self.runner.wait(handle, 0)
                if state is None:  # still running: each child checks its own target
                    return {}
                upstream.append(state)
        kept = {i for i, state in enumerate(earlier) if _is_kept(state)}
        constants = self.flow.constants.get(task) or {}
        return existing_targets(task, count, self.keys, constants, edges, upstream, kept)

    def given(self, state: State) -> Handles | None:
        """Handles for a finished state from ``task_states``; None if it must run again.

        A given ``Mapped`` state becomes one handle per child, as if its children had just
        run, so mapped downstream tasks pair child with child. One with unfinished children
        (from a paused run) runs again, reusing its finished children.
        """
        if not state.is_mapped() or (not state.map_states and state.data is not None):
            return self.runner.given(state)
        if all(_is_done(child) for child in state.map_states):
            return [self.runner.given(child) for child in state.map_states]
        return None

    def measure(self, task: Task, mapped: list[Any]) -> tuple[list[int], str | None]:
        """Each mapped argument's length, or why the task cannot expand."""
        lengths = []
        for edge in mapped:
            source = self.handles[edge.upstream_task]
            argument = edge.key or f"upstream_tasks={edge.upstream_task.name!r}"
            if isinstance(source, list) and not edge.flattened:
                lengths.append(len(source))
                continue
            if isinstance(source, list):  # flatten over children: each child's list is one item
                shapes = [self.runner.shape(s, flattened=False) for s in source]
            else:
                shapes = [self.runner.shape(source, flattened=edge.flattened)]
            problem = shape_problem(
                task.name, argument, f"task {edge.upstream_task.name!r}", shapes
            )
            if problem is not None:
                return [], problem
            lengths.append(sum(s.length or 0 for s in shapes))
        return lengths, None

    def call(
        self,
        task: Task,
        refs: Any,
        map_index: int | None,
        initial: State | None,
        is_start: bool,
        mapping_problem: str | None = None,
        name: str | None = None,
    ) -> TaskRunCall:
        constants = self.flow.constants.get(task) or {}
        if getattr(task, "task_run_name", None) is not None:  # its name heads the Dask key
            named = submitted_name(task, self.keys, constants, map_index)
            name = f"{named}-{task_token(task)}-{map_index or 0}" if named else name
        return TaskRunCall(
            self.runnable(task),
            name or task_run_name(task, map_index),
            refs,
            constants,
            map_index,
            self.keys,
            initial,
            is_start,
            mapping_problem,
        )

    def runnable(self, task: Task) -> Any:
        """``task``, or the one ``HandledTask``/``NamedTask`` for it (runner handlers, a
        ``task_run_name``): backends see one object per task."""
        found = self.runnables.get(task)
        if found is None:
            if self.runner_handlers or getattr(task, "task_run_name", None) is not None:
                found = TaskRunner(task, self.runner_handlers).runnable
            else:
                found = task
            self.runnables[task] = found
        return found

    def collect(self, handle: Handles) -> State:
        if isinstance(handle, list):
            children = [self._wait(h) for h in handle]
            mapped = reduce_state(children)
            return mapped.evolve(message=f"Mapped {len(children)} children.")
        return self._wait(handle)

    def _wait(self, handle: Any) -> State:
        state = self.runner.wait(handle)
        assert state is not None, "wait() without a timeout returns a state"
        return state


def _is_done(state: State) -> bool:
    return state.is_finished() and all(_is_done(child) for child in state.map_states)


def _is_kept(state: State) -> bool:
    """A given mapped child that is not run again: done, paused, or running elsewhere."""
    return _is_done(state) or state.is_paused() or state.is_running()


def _not_run(task: Task) -> State:
    return Pending(
        f"Task {task.name!r} was not part of this run (upstream of the start tasks); "
        "pass its state in task_states to provide its result."
    )
