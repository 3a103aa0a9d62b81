"""FlowRunner: one pass through a DAG flow on a task runner.

Tasks are submitted in topological order with their upstream *handles*, so a
backend that runs asynchronously (threads, Dask) starts each task run as soon as
its upstream is done, with no round trip through this loop. The loop itself only
waits where it must: before expanding a mapped task, for the length of what it
maps over. At the end it collects every task's state and decides the flow's.

    for task in sorted tasks:
        given state?          -> handle of that state
        mapped?               -> wait for mapped upstream shapes -> one call per child
        otherwise             -> one call
    collect states -> decide_flow_state
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.dag import flow_handlers
from orchestrator.dag.task import Task
from orchestrator.runs.mapping import shape_problem
from orchestrator.runs.naming import flow_run_name, task_run_name, task_run_prefix
from orchestrator.runs.run_context import run_context
from orchestrator.runs.run_options import (
    context_dict,
    refuse_unknown_keywords,
    task_states_dict,
    tasks_set,
)
from orchestrator.runs.scheduler import (
    ChildRefs,
    Handles,
    check_parameters,
    decide_flow_state,
    upstream_refs,
)
from orchestrator.task_runners.base import AnyTaskRunner, ChildCalls
from orchestrator.task_runners.choice import RunnerOption, resolve_task_runner
from orchestrator.task_runners.sequential import SequentialTaskRunner
from taskrun.context import context
from taskrun.states import Pending, Running, State
from taskrun.wire import TaskRunCall, reduce_state

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow  # Flow.run imports this module

logger = logging.getLogger("orchestrator.FlowRunner")


class FlowRunner:
    """Runs a ``Flow`` once: ``FlowRunner(flow=f).run(parameters=...)`` returns its state."""

    def __init__(self, flow: Flow, task_runner: RunnerOption = None) -> None:
        self.flow = flow
        self.task_runner = resolve_task_runner(task_runner, flow.name)

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        task_runner: RunnerOption = None,
        context: Mapping[str, Any] | None = None,
        task_states: Mapping[Task, State] | None = None,
        start_tasks: Iterable[Task] | None = None,
        return_tasks: Iterable[Task] | None = None,
        progress: Any = False,
        **unknown: Any,
    ) -> State:
        """Run every task (or those downstream of ``start_tasks``) and return the flow state.

        Every option is checked before anything runs (a ``RunOptionError`` names the flow,
        the option and the fix; an unknown keyword gets a "did you mean").

        Args:
            task_runner: a task runner, a task-runner class, or "sequential",
                "concurrent", "dask" (see ``task_runners.choice``); default the flow's own.
            task_states: initial states; finished ones are kept, ``Resume`` resumes a task.
                Resuming a paused task reuses the paused run's results: pass
                ``task_states={**paused_state.result(), t: Resume()}``. A start or resumed
                task whose data comes from a task with no finished state here fails with
                ``MissingInputError`` instead of running on ``None``.
            start_tasks: run only these and their downstream, treating these as roots
                (their triggers are not checked; upstream tasks keep their given states).
            return_tasks: tasks whose states the result holds (default: all).
            progress: ``True`` (or an ``orchestrator.progress.ProgressDisplay``) shows the task
                runs live while the flow runs, then a summary table.
        """
        flow = self.flow
        refuse_unknown_keywords(flow.name, "run()", unknown, _RUN_OPTIONS)
        flow.validate()
        values = check_parameters(flow.name, flow.parameters(), parameters)
        context = context_dict(flow.name, context)
        task_states = task_states_dict(flow, task_states)
        start_tasks = tasks_set(flow, "start_tasks", start_tasks)
        chosen = tasks_set(flow, "return_tasks", return_tasks)
        runner = _runner(flow, task_runner, self.task_runner)
        keys = run_context(
            context,
            flow_name=flow.name,
            flow_run_id=str(uuid.uuid4()),
            flow_run_name=flow_run_name(),
            parameters=values,
        )
        logger.info("Beginning Flow run for %r", flow.name)
        running = flow_handlers.transition(
            flow, Pending("Flow run is pending."), Running("Running flow.")
        )
        if running.is_finished():  # a state handler failed or ended the run before it began
            return running
        logger.info("Starting flow run.")
        with _context_scope(context), runner:
            plan = _Pass(flow, runner, keys, task_states, start_tasks)
            with _watch(progress, plan) as watch:
                states = plan.execute()
        # decide_flow_state copies ``returned`` into the flow state
        returned = states if chosen is None else {t: s for t, s in states.items() if t in chosen}
        final = decide_flow_state(
            states, flow.reference_tasks(), returned, terminal_tasks=flow.terminal_tasks()
        )
        final = flow_handlers.transition(flow, running, final)
        logger.info(
            "Flow run %s: %s",
            final.type.value if not final.is_successful() else "SUCCESS",
            final.message,
        )
        if watch is not None:
            watch.finish(final, states)
        return final


class _Pass:
    """The bookkeeping of one pass: a handle per task, in submission order."""

    def __init__(
        self,
        flow: Flow,
        runner: AnyTaskRunner,
        keys: dict[str, Any],
        task_states: dict[Task, State],
        start_tasks: Iterable[Task] | None,
    ) -> None:
        self.flow, self.runner, self.keys, self.task_states = flow, runner, keys, task_states
        self.start = set(start_tasks or ())
        #: every task in topological order (the flow's own list: not to be changed)
        self.every = flow._topological_order()
        self.order = flow.sorted_tasks(root_tasks=self.start) if self.start else self.every
        self.handles: dict[Task, Handles] = {}

    def execute(self) -> dict[Task, State]:
        flow, handles = self.flow, self.handles
        if self.start:
            running = set(self.order)
            for task in self.every:  # upstream of start tasks: not run, known from task_states
                if task not in running:
                    state = self.task_states.get(task) or _not_run(task)
                    handles[task] = self.given(state) or self.runner.given(state)
        consumers: dict[Task, int] = {}  # per upstream task: consumers not submitted yet
        for task in self.order:
            handles[task] = self.submit(task)
            if not flow._consumers(task):  # nothing will read it: its state holds the rest
                self.runner.release(handles[task])
            for upstream in flow._producers(task):  # its last consumer is submitted?
                left = consumers.get(upstream)
                left = (len(flow._consumers(upstream)) if left is None else left) - 1
                consumers[upstream] = left
                if left == 0:
                    self.runner.release(handles[upstream])
        return {task: self.collect(handles[task]) for task in self.every}

    def submit(self, task: Task) -> Handles:
        initial = self.task_states.get(task) if self.task_states else None
        earlier: list[State] = []  # children of a given mapped state, reused where finished
        if initial is not None and initial.is_finished():
            handles = self.given(initial)
            if handles is not None:
                return handles
            earlier = initial.map_states
            initial = None
        edges = self.flow._inputs(task)
        is_start = task in self.start
        mapped = [e for e in edges if e.mapped] if edges else edges
        if not mapped or (initial is not None and initial.is_resume()):
            return self.runner.submit(
                self.call(task, upstream_refs(edges, self.handles), None, initial, is_start)
            )
        lengths, problem = self.measure(task, mapped)
        if problem is not None:
            return self.runner.submit(
                self.call(
                    task,
                    upstream_refs(edges, self.handles),
                    None,
                    initial,
                    is_start,
                    mapping_problem=problem,
                )
            )
        count = min(lengths) if lengths else 0
        earlier = earlier if len(earlier) == count else []
        refs, prefix = ChildRefs(edges, self.handles), task_run_prefix(task)

        def child_call(i: int) -> TaskRunCall:
            earlier_state = earlier[i] if earlier else None
            return self.call(task, refs.refs(i), i, earlier_state, False, name=f"{prefix}{i}")

        if self.runner.submits_in_bulk:
            return self.submit_children(task, count, earlier, child_call)
        children: list[Any] = []
        for i in range(count):
            if earlier and _is_done(earlier[i]):
                children.append(self.runner.given(earlier[i]))
            else:
                children.append(self.runner.submit(child_call(i)))
            self.handles[task] = children  # progress displays see children as they are submitted
        return children

    def submit_children(
        self, task: Task, count: int, earlier: list[State], child_call: Callable[[int], TaskRunCall]
    ) -> list[Any]:
        """A mapped task's children in one ``submit_many`` (backends that batch them)."""
        children: list[Any] = [None] * count
        indexes = []
        for i in range(count):
            if earlier and _is_done(earlier[i]):
                children[i] = self.runner.given(earlier[i])
            else:
                indexes.append(i)
        calls = ChildCalls(task, len(indexes), lambda position: child_call(indexes[position]))
        for i, handle in zip(indexes, self.runner.submit_many(calls), strict=True):
            children[i] = handle
        return children

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
        return TaskRunCall(
            task,
            name or task_run_name(task, map_index),
            refs,
            self.flow.constants.get(task) or {},
            map_index,
            self.keys,
            initial,
            is_start,
            mapping_problem,
        )

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


#: the keywords ``FlowRunner.run`` (and ``Flow.run``) take, for "did you mean" messages
_RUN_OPTIONS = (
    "parameters", "task_runner", "context", "task_states", "start_tasks", "return_tasks",
    "progress",
)  # fmt: skip


def _runner(flow: Flow, *options: RunnerOption) -> AnyTaskRunner:
    """The first task runner given (the run's, the FlowRunner's, the flow's), else sequential."""
    for option in (*options, flow.task_runner):
        if option is not None:
            runner = resolve_task_runner(option, flow.name)
            assert runner is not None
            return runner
    return SequentialTaskRunner()


def _is_done(state: State) -> bool:
    return state.is_finished() and all(_is_done(child) for child in state.map_states)


def _not_run(task: Task) -> State:
    from taskrun.states import Pending

    return Pending(
        f"Task {task.name!r} was not part of this run (upstream of the start tasks); "
        "pass its state in task_states to provide its result."
    )


def _watch(progress: Any, plan: _Pass) -> Any:
    """The progress display watching ``plan``'s handles, or nothing."""
    if not progress:
        return contextlib.nullcontext(None)
    from orchestrator.progress import watch_dag_run  # rich is imported only when asked for

    return watch_dag_run(progress, plan.flow, plan.runner, plan.handles, plan.keys["flow_run_name"])


def _context_scope(overrides: Mapping[str, Any]) -> Any:
    """User ``context=`` keys, visible to code in this process during the run."""
    return context(dict(overrides))
