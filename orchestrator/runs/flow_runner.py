"""FlowRunner: passes through a DAG flow on a task runner, and the flow state they leave.

Two ways to run, one pass implementation (``runs/dag_pass.py``):

    FlowRunner.run            one pass, as Prefect 1's: an attempt to retry ends its task
                              run ``Retrying``; the flow state is then ``Running`` and the
                              caller runs the next pass with ``task_states=``
    run_to_completion         what ``flow.run()`` calls: retries wait inside the task runner
                              (holding no thread on Dask or the thread pool), and a task given
                              a state whose start time is ahead is waited for between passes

After the last pass the flow state is decided from the reference tasks
(``runs/scheduler.py: decide_flow_state``), passed to the flow's ``terminal_state_handler``
(``runs/pass_outcome.py``), then to the flow's and this runner's state handlers.
The single pass reaches every backend through the run-context key ``single_pass``: each
task runner then gives the executor ``SINGLE_PASS`` as its ``sleep``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from orchestrator.dag import flow_handlers
from orchestrator.dag.task import Task
from orchestrator.journal.controlled_runner import JournalOption, controlled
from orchestrator.journal.resume import resumed_states
from orchestrator.runs.dag_pass import DagPass
from orchestrator.runs.naming import flow_run_name
from orchestrator.runs.pass_outcome import (
    apply_terminal_state_handler,
    earliest_start,
    is_incomplete,
    is_not_due,
    running_state,
    wait_until,
)
from orchestrator.runs.run_context import run_context
from orchestrator.runs.run_options import (
    context_dict,
    refuse_unknown_keywords,
    task_states_dict,
    tasks_set,
)
from orchestrator.runs.runner_handlers import call_flow_runner_handlers, check_handlers
from orchestrator.runs.scheduler import (
    check_parameters,
    decide_flow_state,
)
from orchestrator.task_runners.base import AnyTaskRunner
from orchestrator.task_runners.choice import RunnerOption, resolve_task_runner, runner_or_executor
from orchestrator.task_runners.sequential import SequentialTaskRunner
from taskrun.context import context
from taskrun.run_collector import survivors_frozen
from taskrun.states import Pending, Running, State

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow  # Flow.run imports this module

logger = logging.getLogger("orchestrator.FlowRunner")


class FlowRunner:
    """Runs passes through a ``Flow``: ``FlowRunner(flow=f).run(...)`` makes one, as
    Prefect 1's does; ``flow.run()`` (``run_to_completion``) runs until every task is done.

    A single pass ends an attempt that will be retried in its ``Retrying`` state; its
    downstream tasks stay ``Pending`` and the flow state is ``Running``. Run another pass
    with those states once the retry is due:

        state = runner.run(return_tasks=flow.tasks)
        while state.is_running():
            state = runner.run(task_states=state.result(), return_tasks=flow.tasks)

    Args:
        task_runner: the backend of its runs (``executor=`` is Prefect 1's name for it).
        state_handlers: ``handler(flow_runner, old_state, new_state) -> State | None``,
            called on each flow-run transition after the flow's own handlers.
    """

    def __init__(
        self,
        flow: Flow,
        task_runner: RunnerOption = None,
        state_handlers: Iterable[Any] | None = None,
        executor: RunnerOption = None,
    ) -> None:
        self.flow = flow
        self.task_runner = resolve_task_runner(
            runner_or_executor(flow.name, task_runner, executor), flow.name
        )
        self.state_handlers = list(state_handlers or ())
        check_handlers(flow.name, "FlowRunner state_handlers", self.state_handlers)

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        task_runner: RunnerOption = None,
        context: Mapping[str, Any] | None = None,
        task_states: Mapping[Task, State] | None = None,
        start_tasks: Iterable[Task] | None = None,
        return_tasks: Iterable[Task] | None = None,
        progress: Any = False,
        state: State | None = None,
        task_runner_state_handlers: Iterable[Any] | None = None,
        executor: RunnerOption = None,
        journal: JournalOption = None,
        resume: str | None = None,
        **unknown: Any,
    ) -> State:
        """One pass through the flow (Prefect 1's ``FlowRunner.run``); returns the flow state.

        Every option is checked before anything runs (a ``RunOptionError`` names the flow,
        the option and the fix; an unknown keyword gets a "did you mean").

        Args:
            task_runner: a task runner, a task-runner class, or "sequential",
                "concurrent", "dask" (see ``task_runners.choice``); default the flow's own.
                ``executor=`` is Prefect 1's name for it.
            task_states: initial states (e.g. the result of an earlier pass): finished ones
                are kept; ``Retrying``/``Scheduled`` ones run once their start time has
                come; ``Paused`` ones stay paused unless given ``Resume``; ``Running`` ones
                are returned as they are; a ``Mapped`` state runs only its unfinished or
                missing children. Resuming a paused task reuses the paused run's results:
                pass ``task_states={**paused_state.result(), t: Resume()}``. A start or
                resumed task whose data comes from a task with no finished state here
                fails with ``MissingInputError`` instead of running on ``None``.
            start_tasks: run only these and their downstream, treating these as roots
                (their triggers are not checked; upstream tasks keep their given states).
            return_tasks: tasks whose states the flow state's result holds (default: none,
                as in Prefect 1; ``flow.run()`` returns all). An unknown one is refused.
            state: the flow state to start from: a finished one is returned as it is, a
                ``Scheduled`` one not yet due too.
            task_runner_state_handlers: ``handler(task_runner, old, new)``, given to the
                runner of every task run (see ``orchestrator.runs.runner_handlers``).
            progress: ``True`` (or an ``orchestrator.progress.ProgressDisplay``) shows the task
                runs live while the flow runs, then a summary table.
            journal: ``False`` writes no run journal, ``True`` writes it even when
                ``ORCHESTRATOR_JOURNAL=off``; default: as that variable says (see
                ``orchestrator.journal``).
            resume: a journalled flow run's id (or ``"last"``) to resume: this pass is its
                next attempt, re-using every persisted result (``journal.resume``).
        """
        options = _Options(
            parameters, runner_or_executor(self.flow.name, task_runner, executor), context,
            task_states, start_tasks, return_tasks, progress, state, task_runner_state_handlers,
            journal, resume,
        )  # fmt: skip
        return self._run(options, unknown, single_pass=True)

    def run_to_completion(
        self,
        parameters: Mapping[str, Any] | None = None,
        task_runner: RunnerOption = None,
        context: Mapping[str, Any] | None = None,
        task_states: Mapping[Task, State] | None = None,
        start_tasks: Iterable[Task] | None = None,
        return_tasks: Iterable[Task] | None = None,
        progress: Any = False,
        state: State | None = None,
        task_runner_state_handlers: Iterable[Any] | None = None,
        journal: JournalOption = None,
        resume: str | None = None,
        **unknown: Any,
    ) -> State:
        """Run the flow until every task is done (what ``flow.run()`` calls); the options
        are ``run``'s, but ``return_tasks`` defaults to every task.

        Retries wait in the task runner (no pass per attempt: a Dask or thread-pool run
        holds no thread meanwhile); a task given a state whose start time is ahead is
        waited for here, then another pass runs. A paused task ends the run ``Paused``.
        """
        if return_tasks is None:
            return_tasks = list(self.flow.tasks)
        options = _Options(
            parameters, task_runner, context, task_states, start_tasks, return_tasks,
            progress, state, task_runner_state_handlers, journal, resume,
        )  # fmt: skip
        return self._run(options, unknown, single_pass=False)

    def _run(self, options: _Options, unknown: Mapping[str, Any], single_pass: bool) -> State:
        flow = self.flow
        refuse_unknown_keywords(flow.name, "run()", unknown, _RUN_OPTIONS)
        flow.validate()
        values = check_parameters(flow.name, flow.parameters(), options.parameters)
        context = context_dict(flow.name, options.context)
        task_states = task_states_dict(flow, options.task_states)
        start_tasks = tasks_set(flow, "start_tasks", options.start_tasks)
        chosen = tasks_set(flow, "return_tasks", options.return_tasks) or set()
        runner = _runner(flow, options.task_runner, self.task_runner)
        given = options.state
        if given is not None and (given.is_finished() or is_not_due(given)):
            return given  # over already, or not due yet: Prefect 1 ends the run at once
        run_id = str(uuid.uuid4())
        if options.resume is not None:  # the next attempt of a journalled run (issue 14)
            run_id, resumed = resumed_states(flow, options.resume, parameters=values)
            task_states = {**resumed, **task_states}
        keys = run_context(
            context,
            flow_name=flow.name,
            flow_run_id=run_id,
            flow_run_name=flow_run_name(),
            parameters=values,
        )
        if single_pass:  # task runners end an attempt to retry in its Retrying state
            keys["single_pass"] = True
        runner = controlled(  # journalled and cancellable (issue 14)
            runner, keys["flow_run_id"], flow.name, keys["flow_run_name"], values, options.journal
        )
        logger.info("Beginning Flow run for %r", flow.name)
        running = given if given is not None and given.is_running() else None
        if running is None:
            running = self._transition(
                given or Pending("Flow run is pending."), Running("Running flow.")
            )
        if running.is_finished():  # a state handler failed or ended the run before it began
            return running
        logger.info("Starting flow run.")
        with _context_scope(context), survivors_frozen(), runner:
            plan = DagPass(flow, runner, keys, task_states, start_tasks,
                         options.task_runner_state_handlers)  # fmt: skip
            with _watch(options.progress, plan) as watch:
                states = _passes(plan, single_pass)
        final = runner.finish(self._final_state(running, states, chosen, single_pass))
        if watch is not None:
            watch.finish(final, states)
        return final

    def _final_state(
        self, running: State, states: dict[Task, State], chosen: set[Task], single_pass: bool
    ) -> State:
        """The flow state after the last pass, through the terminal and state handlers."""
        flow = self.flow
        returned = {t: s for t, s in states.items() if t in chosen}
        reference, terminal = flow.reference_tasks(), flow.terminal_tasks()
        if single_pass and is_incomplete(states, terminal | reference):
            final = running_state(returned)
        else:  # decide_flow_state copies ``returned`` into the flow state
            final = decide_flow_state(states, reference, returned, terminal_tasks=terminal)
        final = apply_terminal_state_handler(flow, final, (states[t] for t in reference))
        if final.is_running():  # Prefect 1: a pass that leaves the flow running is no change
            logger.info("Flow run RUNNING: terminal tasks are incomplete.")
            return final
        final = self._transition(running, final)
        logger.info(
            "Flow run %s: %s",
            final.type.value if not final.is_successful() else "SUCCESS",
            final.message,
        )
        return final

    def _transition(self, old: State, new: State) -> State:
        """The flow's handlers (and ``on_failure``), then this runner's."""
        new = flow_handlers.transition(self.flow, old, new)
        return call_flow_runner_handlers(self, self.state_handlers, old, new)

    def __repr__(self) -> str:
        return f"<FlowRunner: {self.flow.name}>"


class _Options(NamedTuple):
    """The options of one run, as given (checked in ``FlowRunner._run``)."""

    parameters: Mapping[str, Any] | None
    task_runner: RunnerOption
    context: Mapping[str, Any] | None
    task_states: Mapping[Task, State] | None
    start_tasks: Iterable[Task] | None
    return_tasks: Iterable[Task] | None
    progress: Any
    state: State | None
    task_runner_state_handlers: Iterable[Any] | None
    journal: JournalOption = None
    resume: str | None = None


#: the keywords ``FlowRunner.run`` (and ``Flow.run``) take, for "did you mean" messages
_RUN_OPTIONS = (
    "parameters", "task_runner", "context", "task_states", "start_tasks", "return_tasks",
    "progress", "journal", "resume", "state", "task_runner_state_handlers", "executor",
)  # fmt: skip


def _runner(flow: Flow, *options: RunnerOption) -> AnyTaskRunner:
    """The first task runner given (the run's, the FlowRunner's, the flow's), else sequential."""
    for option in (*options, flow.task_runner):
        if option is not None:
            runner = resolve_task_runner(option, flow.name)
            assert runner is not None
            return runner
    return SequentialTaskRunner()


def _passes(plan: DagPass, single_pass: bool) -> dict[Task, State]:
    """One pass; for ``flow.run()``, more while tasks wait for a start time (each pass
    starts from the states the one before left)."""
    states = plan.execute()
    while not single_pass and (due := earliest_start(states.values())) is not None:
        wait_until(due, plan.flow.name)
        plan.task_states = states
        states = plan.execute()
    return states


def _watch(progress: Any, plan: DagPass) -> Any:
    """The progress display watching ``plan``'s handles, or nothing."""
    if not progress:
        return contextlib.nullcontext(None)
    from orchestrator.progress import watch_dag_run  # rich is imported only when asked for

    return watch_dag_run(progress, plan.flow, plan.runner, plan.handles, plan.keys["flow_run_name"])


def _context_scope(overrides: Mapping[str, Any]) -> Any:
    """User ``context=`` keys, visible to code in this process during the run."""
    return context(dict(overrides))
