"""FlowRun: one run of a ``@flow`` function, and the submitter its task calls go to.

The function body runs in the calling thread (or, with ``flow.submit()``, in a
background thread) while task runs execute on the task runner: in the same thread
(sequential), a thread pool, or a Dask cluster. Inside the body every task call
becomes a ``TaskRunCall`` and returns a ``Future`` at once:

    Beginning flow run -> start task runner -> body (task calls -> submit -> Future)
    -> wait for every submitted run -> shut down task runner -> final state

Logs follow the reference documents, on ``orchestrator.flow_runs`` (the run) and
``orchestrator.task_runs`` (each task run's final state, logged once, when it is first
seen: at submission for the sequential runner, else by the ``FinalStateWatcher``, so
the lines appear as runs finish).
"""

from __future__ import annotations

import contextvars
import html
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from orchestrator.dag import active
from orchestrator.errors import UnguardedMainError
from orchestrator.journal.controlled_runner import JournalOption, controlled
from orchestrator.journal.function_resume import FunctionResume
from orchestrator.runs.branching_runner import BranchingRunner
from orchestrator.runs.final_state_logs import log_final_state
from orchestrator.runs.final_states import FinalStateWatcher
from orchestrator.runs.flow_run_state import (
    failed_by_exception,
    fetch_results,
    flow_state_from,
    results_to_keep,
    runs_table_html,
)
from orchestrator.runs.futures import Future
from orchestrator.runs.naming import flow_run_name, task_run_prefix
from orchestrator.runs.run_context import run_context
from orchestrator.runs.task_calls import (
    CallParts,
    call_parts,
    check_required,
    expand,
    is_input_future,
    listed_futures,
)
from orchestrator.runs.task_run_names import NamedTask
from orchestrator.task_runners.base import AnyTaskRunner, ChildCalls
from taskrun.context import context
from taskrun.run_collector import survivors_frozen
from taskrun.states import Cancelled, Failed, Pending, Running, State
from taskrun.triggers import flattens_upstream
from taskrun.wire import TaskRunCall

flow_logger = logging.getLogger("orchestrator.flow_runs")


class FlowRun:
    """One run of a ``@flow``: call ``run()`` (blocking) or ``start()`` (background).

    Args:
        flow_name: the flow's name, for logs and context.
        fn: the flow's function; ``args``/``kwargs`` are its validated arguments.
        runner: a fresh task runner for this run (started and shut down here).
        parameters: the arguments by name, for ``context.parameters``.
        journal: the run journal option (``orchestrator.journal``): False for none.
        max_in_flight: the flow's bound of mapped branches alive at once (``BranchingRunner``).
        resume: the journalled run this one is the next attempt of (its id is kept, and
            each call whose result it persisted is answered from there).
    """

    def __init__(
        self,
        flow_name: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        runner: AnyTaskRunner,
        parameters: Mapping[str, Any] | None = None,
        journal: JournalOption = None,
        resume: FunctionResume | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self.flow_name = flow_name
        self.name = flow_run_name()
        self.id = resume.run_id if resume is not None else str(uuid.uuid4())
        self._resume = resume
        controlled_runner = controlled(
            runner, self.id, flow_name, self.name, parameters or {}, journal
        )
        self.runner = BranchingRunner(controlled_runner, max_in_flight, holding=resume is None)
        self._fn, self._args, self._kwargs = fn, args, dict(kwargs)
        self.parameters = dict(parameters or {})
        self._futures: list[Future[Any]] = []
        self._calls_per_task: dict[Any, int] = {}
        #: per task with a ``task_run_name``: the one ``NamedTask`` its runs execute
        self._named: dict[Any, Any] = {}
        self._name_prefixes: dict[Any, str] = {}
        self._lock = threading.Lock()
        self._state: State = Pending("Flow run has not started.")
        self._done = threading.Event()
        self._watcher: FinalStateWatcher | None = None
        #: the run context every task run of this flow run receives (one shared dict)
        self._task_keys: dict[str, Any] = {}
        #: what each future calls with its final state (one bound method for all of them)
        self._on_final = log_final_state
        self._thread: threading.Thread | None = None
        self.keys: dict[str, Any] = {}

    # ---- the run --------------------------------------------------------------------------------
    def run(self) -> State:
        """Run the flow function to the end and return the flow run's final state."""
        flow_logger.info("Beginning flow run %r for flow %r...", self.name, self.flow_name)
        self.keys = run_context(
            flow_name=self.flow_name,
            flow_run_id=self.id,
            flow_run_name=self.name,
            parameters=self.parameters,
        )
        self._task_keys = {**self.keys, "executor_logs": False}
        self._state = Running("Flow run is running.")
        flow_logger.info("Starting task runner `%s`...", self.runner.name)
        try:
            self.runner.start()
        except Exception as err:  # boundary: a backend that cannot start fails the run
            if isinstance(err, UnguardedMainError):  # the script must change:
                self._finish(Failed(f"{self.runner.name} refused to start: {err!r}", err))
                raise  # a returned state would let it go on and exit 0
            flow_logger.error("Task runner `%s` failed to start", self.runner.name, exc_info=True)
            message = (
                f"Task runner `{self.runner.name}` failed to start: {err!r}. "
                "Check its address or cluster options."
            )
            return self._finish(Failed(message, err))
        self._watcher = FinalStateWatcher(self.runner, self.name)
        self._watcher.start()
        try:
            with survivors_frozen():
                final = self._run_body()
            self._stop_watching()
            flow_logger.info("Shutting down task runner `%s`...", self.runner.name)
        except BaseException as err:  # interrupted (Ctrl-C): end the run, then let it propagate
            self._finish(Cancelled(f"Flow run {self.name!r} was interrupted: {err!r}.", err))
            raise
        finally:
            self._stop_watching()
            self.runner.shutdown()
        return self._finish(final)

    def _run_body(self) -> State:
        token = active.running_flow.set(self)
        try:
            with context(self.keys):
                returned = self._fn(*self._args, **self._kwargs)
        except Exception as err:  # boundary: the flow function is user code
            flow_logger.error("Flow run %r encountered exception:", self.name, exc_info=True)
            self._wait_all()
            return failed_by_exception(err)
        finally:
            active.running_flow.reset(token)
        self._wait_all()
        if self._resume is not None:
            self._resume.report_unused()
        final = flow_state_from(returned, self.futures)
        fetch_results(results_to_keep(final, returned), self.name)
        for future in self.futures:  # the states hold what was asked for: the backend may forget
            self.runner.release(future.handle)
        return final

    def _finish(self, final: State) -> State:
        final = self.runner.finish(final)  # Cancelled if it was cancelled; journalled
        flow_logger.log(
            logging.ERROR if final.is_failed() else logging.INFO,
            "Flow run %r finished in state %r",
            self.name,
            final,
        )
        self._state = final
        self._done.set()
        return final

    def _wait_all(self) -> None:
        for future in self.futures:
            future.wait()

    # ---- background use (notebooks) -------------------------------------------------------------
    def start(self) -> FlowRun:
        """Run in a background thread and return at once; see ``wait`` and ``futures``."""
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(
            target=ctx.run, args=(self.run,), daemon=True, name=f"orchestrator-flow-run-{self.name}"
        )
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> State | None:
        """The final state once the run is over; None if ``timeout`` seconds pass first."""
        return self._state if self._done.wait(timeout) else None

    def get_state(self) -> State:
        """The flow run's current state, without blocking."""
        return self._state

    def cancel(self, reason: str | None = None, task_message: str | None = None) -> bool:
        """Stop the run: nothing more is submitted, unfinished task runs (``task_message``
        their states' message) and the flow run end ``Cancelled``; Dask cancels them on the
        scheduler. False if asked already."""
        return self.runner.cancel_flow_run(reason, task_message)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        """Wait for the run and return its state's result (re-raising a failure)."""
        state = self.wait(timeout)
        if state is None:
            raise TimeoutError(f"Flow run {self.name!r} did not finish within {timeout} seconds.")
        return state.result(raise_on_failure=raise_on_failure)

    @property
    def futures(self) -> list[Future[Any]]:
        """The futures of the task runs submitted so far, in submission order."""
        with self._lock:
            return list(self._futures)

    # ---- task calls (the ``active.TaskSubmitter`` protocol) --------------------------------------
    def submit_task(
        self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], wait_for: Any, mapped: bool
    ) -> Any:
        """Submit a run of ``task`` (or one per mapped element) and return its future(s)."""
        arguments = task.bind_arguments(args, kwargs)
        gather = flattens_upstream(task.trigger)
        if not mapped:
            check_required(task, arguments)
            count = self._reserve(task, 1)
            if (stored := self._reusable(task, count)) is not None:
                return self._given(self._run_name(task, count), task, stored)
            parts = call_parts(arguments, wait_for, task.name, self._resolve, gather)
            return self._submit([self._call(task, parts, count=count)])[0]
        expansion = expand(task.name, arguments, self._resolve, self.runner.shape)
        if expansion.problem is not None:
            needs = [expansion.culprit, *listed_futures(wait_for)]
            parts = call_parts({}, needs, task.name, self._resolve)
            return self._submit([self._call(task, parts, mapping_problem=expansion.problem)])
        if expansion.count:
            check_required(task, expansion.child(0))  # every child has the same arguments
        base = self._reserve(task, expansion.count)
        todo: Sequence[int] = range(expansion.count)  # the children that run
        kept: list[State | None] = []  # resumed: each child's persisted state, or None
        if self._resume is not None:
            kept = [self._reusable(task, base + index) for index in todo]
            todo = [index for index, state in enumerate(kept) if state is None]

        def build(position: int) -> TaskRunCall:
            index = todo[position]
            parts = call_parts(expansion.child(index), wait_for, task.name, self._resolve, gather)
            return self._call(task, parts, map_index=index, count=base + index)

        counts = [base + index for index in todo] if kept else range(base, base + len(todo))
        submitted = self._submit_children(ChildCalls(task, len(todo), build), counts)
        if not kept:
            return submitted
        ran = iter(submitted)
        return [
            next(ran) if state is None else self._given(self._run_name(task, base + i), task, state)
            for i, state in enumerate(kept)
        ]

    def _run_name(self, task: Any, count: int) -> str:
        """``naming.task_run_name(task, count)``, the task's part worked out once per run."""
        prefix = self._name_prefixes.get(task)
        if prefix is None:
            resumed = self._resume.prefix(task) if self._resume is not None else None
            prefix = self._name_prefixes[task] = resumed or task_run_prefix(task)
        return f"{prefix}{count}"

    def _reusable(self, task: Any, count: int) -> State | None:
        """The persisted state the resumed run kept for this call, else None (it runs)."""
        if self._resume is None:
            return None
        self._run_name(task, count)  # claims the task's journalled name (or refuses)
        return self._resume.reusable(task, count)

    def _reserve(self, task: Any, runs: int) -> int:
        """The call count of the first of ``runs`` new runs of ``task`` (it names them)."""
        with self._lock:
            count = self._calls_per_task.get(task, 0)
            self._calls_per_task[task] = count + runs
        return count

    def _call(
        self,
        task: Any,
        parts: CallParts,
        map_index: int | None = None,
        mapping_problem: str | None = None,
        count: int | None = None,
    ) -> TaskRunCall:
        """A task run of ``task``, named by its call count in this flow run (the next one
        unless ``count`` was reserved)."""
        if count is None:
            count = self._reserve(task, 1)
        named = getattr(task, "task_run_name", None) is not None
        resume = self._resume
        return TaskRunCall(
            task=self._named.get(task) or self._name_runs(task) if named else task,
            name=self._run_name(task, count),
            upstream=tuple(parts.refs),
            inputs=parts.inputs,
            map_index=map_index,
            run_context=self._task_keys,
            initial_state=resume.initial(task, count) if resume is not None else None,
            mapping_problem=mapping_problem,
            templates=parts.templates,
        )

    def _name_runs(self, task: Any) -> NamedTask:
        named = self._named[task] = NamedTask(task, None, ())
        return named

    def _submit(self, calls: Iterable[TaskRunCall]) -> list[Future[Any]]:
        """Hand ``calls`` to the runner, one by one."""
        token = active.running_flow.set(None)  # task bodies calling tasks run them directly,
        try:  # whether the runner executes here (sequential) or copies this context (threads)
            futures = []
            for call in calls:
                flow_logger.info("Submitting task run %r to task runner...", call.name)
                task = call.task.task if isinstance(call.task, NamedTask) else call.task
                futures.append(self._track(call.name, task, self.runner.submit(call)))
            return futures
        finally:
            active.running_flow.reset(token)

    def _submit_children(self, calls: ChildCalls, counts: Sequence[int]) -> list[Future[Any]]:
        """Hand a mapped call's children (call counts ``counts``) to the runner: together if
        it batches them, else one by one; each is built as read and dropped once submitted."""
        if not len(calls):
            return []
        if not self.runner.submits_in_bulk and not self.runner.holds(calls.task):
            return self._submit(calls)  # read once, in order
        task = calls.task
        names = [self._run_name(task, count) for count in counts]
        if flow_logger.isEnabledFor(logging.INFO):
            for name in names:
                flow_logger.info("Submitting task run %r to task runner...", name)
        token = active.running_flow.set(None)
        try:
            handles = self.runner.submit_many(calls)
            return [self._track(n, task, h) for n, h in zip(names, handles, strict=True)]
        finally:
            active.running_flow.reset(token)

    def _given(self, name: str, task: Any, state: State) -> Future[Any]:
        """A future of a call answered from the resumed run's journal (it does not run)."""
        flow_logger.info("Task run %r re-uses its result from flow run %s", name, self.id)
        return self._track(name, task, self.runner.given(state))

    def _track(self, name: str, task: Any, handle: Any) -> Future[Any]:
        future: Future[Any] = Future(name, task, self.runner, handle, None, self._on_final)
        with self._lock:
            self._futures.append(future)
        assert self._watcher is not None  # tasks are submitted only while the run runs
        self._watcher.track(future)
        return future

    def _resolve(self, value: Any) -> tuple[Any, str]:
        """A handle on this run's task runner for a future or state used as an input."""
        if isinstance(value, Future):
            if value.runner is self.runner:
                return value.handle, value.name
            state = value.wait()  # a future of another flow run: its final state is the input
            assert state is not None
            return self.runner.given(state), value.name
        assert is_input_future(value)
        return self.runner.given(value), f"given {value.name} state"

    def _stop_watching(self) -> None:
        """Stop the watcher before the runner shuts down (it must not ask a closed runner)."""
        if self._watcher is not None:
            self._watcher.stop()

    # ---- display --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<FlowRun {self.name!r} of flow {self.flow_name!r}: {self._state!r}, "
            f"{len(self.futures)} task runs>"
        )

    def _repr_html_(self) -> str:
        """Notebook display: the run, its state, and its task runs grouped by current state."""
        runs = [(f.name, f.get_state()) for f in self.futures]
        return (
            f'<div class="orchestrator-flow-run"><b>Flow run {html.escape(self.name)!r}</b> '
            f"of flow {html.escape(self.flow_name)!r}: {self._state._repr_html_()}"
            f"{runs_table_html(runs)}</div>"
        )
