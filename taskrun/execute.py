"""The task-run executor: one function runs a task run end to end and returns its state.

``run_task`` is the only place that calls user code. It reads as a sequence of
named checks, each of which may end the run:

    finished or not due yet? -> upstream finished? -> upstream skipped? -> trigger
    -> [Running -> body (timeout, signals) -> Looped? -> Failed? -> Retrying -> sleep]*
    -> final state

Every state change goes through the task's state handlers (``taskrun.handler_signals``);
a ``LOOP`` runs the body again (``taskrun.loops``); ``Resume``, or ``Paused`` once due,
runs as resumed (``taskrun.due``). The function never raises: errors (including
orchestrator bugs) become ``Failed`` states. ``executor_logs=False`` in the run context
turns off its start and end lines (the ``@flow`` API logs its own); an attempt that is
retried always logs one line. It runs unchanged in-process and inside a Dask worker;
only ``sleep`` differs: in-process runners wait in the calling thread (``time.sleep``), a
Dask worker passes a ``RetryLater``, gets the ``Retrying`` state back and waits on its
event loop, holding no thread, before it resumes the run.

The task is read through ``TaskLike`` (``task_protocol``); the body is called by
``body_call``; whether and when an attempt is retried is ``taskrun.retries``; the
errors it puts in states are in ``taskrun.errors``.

This is the hot path of every task run (a few microseconds of it per run matter on
maps of a million children), hence: one context dict per run set straight on the
ContextVar (``run_keys``), one pass over the upstream kinds for the three upstream
checks, the default trigger answered without a call when every upstream succeeded,
and no initial ``Pending`` built when no state handler can see it.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import Any

from taskrun import signals
from taskrun.body_call import call_body, logger
from taskrun.context import current, enter, leave
from taskrun.due import is_not_due, requested_delay, resumes, stamp_retrying
from taskrun.errors import MissingInputError, TriggerFailedError
from taskrun.handler_signals import HandlerFailed, call_handlers
from taskrun.loops import LoopPosition, iteration_keys, position_of
from taskrun.persistence import check_cached, checkpoint, is_persistent
from taskrun.retries import RetryLater, SinglePass, retry_delay
from taskrun.run_keys import run_keys
from taskrun.states import (
    FINISHED,
    SUCCESSFUL,
    Failed,
    Pending,
    Retrying,
    Running,
    Skipped,
    State,
    StateKind,
)
from taskrun.task_protocol import TaskLike
from taskrun.transitions import check_transition
from taskrun.triggers import (
    Decision,
    all_successful,
    edge_label,
    evaluate_trigger,
    flatten_upstream,
    upstream_kinds,
)

Kinds = set[StateKind]

_NOTHING: Mapping[Any, Any] = MappingProxyType({})
_SKIPPED, _LOOPED = StateKind.SKIPPED, StateKind.LOOPED
#: the state a run given none starts from, when no state handler is there to see it: the
#: executor never changes or returns it, so one instance serves every such run
_UNSEEN_PENDING = Pending()


#: how the executor waits a retry delay: ``sleep(seconds)``, hand it back (``RetryLater``),
#: or end the run in its ``Retrying`` state (``SINGLE_PASS``)
Sleep = Callable[[float], None] | RetryLater | SinglePass


def run_task(
    task: TaskLike,
    upstream_states: Mapping[Hashable, State] | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    map_index: int | None = None,
    run_context: Mapping[str, Any] | None = None,
    initial_state: State | None = None,
    is_start_task: bool = False,
    sleep: Sleep = time.sleep,
    mapping_problem: str | None = None,
) -> State:
    """Run ``task`` once (with its retries) and return its final, paused or pending state.

    Args:
        upstream_states: state per upstream edge, already sliced for a mapped child; a
            mapped upstream feeding a reduce arrives as a ``Mapped`` state with children.
        inputs: constant keyword arguments (values that are not tasks).
        run_context: flow-run keys (flow_name, today, ...) merged into the context.
        initial_state: the state to start from (``Resume`` skips the trigger).
        is_start_task: treat the task as a root: upstream readiness is not checked.
        mapping_problem: the run is a mapped parent that cannot expand; once its checks
            pass it fails with this message instead of running.
    """
    return execute_task_run(
        task,
        upstream_states,
        inputs=inputs,
        map_index=map_index,
        run_context=run_context,
        task_run_name=None,
        initial_state=initial_state,
        is_start_task=is_start_task,
        sleep=sleep,
        mapping_problem=mapping_problem,
    )


def execute_task_run(
    task: TaskLike,
    upstream_states: Mapping[Hashable, State] | None,
    *,
    inputs: Mapping[str, Any] | None,
    map_index: int | None,
    run_context: Mapping[str, Any] | None,
    task_run_name: str | None,
    initial_state: State | None,
    is_start_task: bool,
    sleep: Sleep,
    mapping_problem: str | None,
) -> State:
    """``run_task``, with the ``task_run_name`` context key given apart from ``run_context``
    (set after its keys): ``execute_call`` names each run without copying the flow-run keys."""
    run = _TaskRun(
        task,
        upstream_states or _NOTHING,
        inputs or _NOTHING,
        map_index,
        run_context or _NOTHING,
        task_run_name,
        initial_state,
        sleep,
    )
    token = enter(run.keys)
    try:
        return run.run(initial_state, is_start_task, mapping_problem)
    except Exception as err:
        return _executor_error(run.label, err)
    finally:
        leave(token)


def _executor_error(label: str, err: Exception) -> State:
    logger.exception("Task %r: unexpected error in the task-run executor", label)
    return Failed(
        f"Orchestrator error while running task {label!r}: {err!r}. "
        "This is a bug in the orchestrator, please report it.",
        err,
    )


class _TaskRun:
    """The bookkeeping of one task run; lives only inside ``run_task``."""

    __slots__ = ("inputs", "keys", "label", "resumes", "run_count", "sleep", "task",
                 "upstream_states", "verbose")  # fmt: skip

    def __init__(
        self,
        task: TaskLike,
        upstream_states: Mapping[Hashable, State],
        inputs: Mapping[str, Any],
        map_index: int | None,
        run_context: Mapping[str, Any],
        task_run_name: str | None,
        initial: State | None,
        sleep: Sleep,
    ) -> None:
        self.task = task
        self.upstream_states = upstream_states
        self.inputs = inputs
        self.sleep = sleep
        name = task.name
        self.label: str = name if map_index is None else f"{name}[{map_index}]"
        #: the run's context, set around the whole run; never changed once set
        self.keys = run_keys(task, self.label, map_index, run_context, task_run_name, initial)
        #: the ``task_run_count`` in ``keys``; a retry's attempt sees its own
        self.run_count: int = self.keys["task_run_count"]
        #: log "Starting task run..." and friends (off for ``@flow`` runs, which log their own)
        self.verbose = bool(run_context.get("executor_logs", True))
        #: the run resumes a paused task (``Resume``, or a ``Paused`` state now due) or a loop
        self.resumes = initial is not None and resumes(initial)
        if self.resumes and initial is not None and not initial.is_looped():
            self.keys["resume"] = True  # pause_task() and manual_only let the run go on

    # ---- the sequence of checks ------------------------------------------------------------
    def run(self, initial: State | None, is_start_task: bool, mapping_problem: str | None) -> State:
        if initial is not None:
            state = initial
            if (state.is_finished() and not state.is_looped()) or is_not_due(state):
                return state
        else:  # a fresh Pending only when a handler will see it as the first old state
            state = Pending() if self.task.state_handlers else _UNSEEN_PENDING
        try:
            if not is_start_task and not self.resumes:
                # one pass over the upstream states (mapped parents flattened) serves all three
                kinds = upstream_kinds(self.upstream_states)
                early = self.check_upstream_finished(kinds)
                early = early or self.check_upstream_skipped(state, kinds)
                early = early or self.check_trigger(state, kinds)
            else:
                early = self.check_inputs_known(state)
            if early is not None:
                return early
            if mapping_problem is not None:
                return self.transition(state, Failed(mapping_problem, ValueError(mapping_problem)))
            if self.verbose:
                logger.info("Task %r: Starting task run...", self.label)
            if is_persistent(self.task) and (found := check_cached(self, state)) is not None:
                return self.finished(self.transition(state, found))  # taskrun.persistence hook
            return self.finished(self.run_attempts(state))
        except HandlerFailed as failure:
            return failure.state

    def resume(self, retrying: State) -> State:
        """The attempts after ``retrying``, for ``RetryLater.resume``; never raises."""
        token = enter(self.keys)
        try:
            return self.finished(self.run_attempts(retrying))
        except HandlerFailed as failure:
            return failure.state
        except Exception as err:
            return _executor_error(self.label, err)
        finally:
            leave(token)

    def finished(self, final: State) -> State:
        """``final``, logged as the run's end unless the run waits in a ``RetryLater``."""
        sleep = self.sleep
        if self.verbose and not (isinstance(sleep, RetryLater) and sleep.holds(self)):
            message = "Task %r: finished task run for task with final state: %r"
            logger.info(message, self.label, final.name)
        return final

    def check_upstream_finished(self, kinds: Kinds) -> State | None:
        if not kinds <= FINISHED:
            return Pending(f"Task {self.label!r}: upstream tasks are not finished yet.")
        return None

    def check_inputs_known(self, state: State) -> State | None:
        """A start or resumed task skips the checks above, but still needs its data."""
        if state.cached_inputs is not None:
            return None
        missing = sorted(
            {
                (key, edge_label(edge))
                for edge, upstream in flatten_upstream(self.upstream_states)
                if (key := getattr(edge, "key", None)) is not None and not upstream.is_finished()
            }
        )
        if not missing:
            return None
        error = MissingInputError(self.label, missing)
        return self.transition(state, Failed(str(error), error))

    def check_upstream_skipped(self, state: State, kinds: Kinds) -> State | None:
        if _SKIPPED not in kinds or not self.task.skip_on_upstream_skip:
            return None
        return self.transition(state, Skipped("Upstream task was skipped; skipping this task."))

    def check_trigger(self, state: State, kinds: Kinds) -> State | None:
        trigger = self.task.trigger
        if trigger is None:
            trigger = all_successful
        if trigger is all_successful and kinds <= SUCCESSFUL:
            return None  # what the default trigger answers, without asking it
        verdict = evaluate_trigger(trigger, self.upstream_states)
        decision, raised = verdict.decision, verdict.signal
        if decision is Decision.RUN:
            return None
        if decision is Decision.SKIP:  # a Skipped state holding its SKIP signal
            skip = raised if raised is not None else signals.SKIP(verdict.reason)
            return self.transition(state, skip.state.evolve(message=verdict.reason))
        if decision is Decision.PAUSE:
            pause = raised if raised is not None else signals.PAUSE(verdict.reason)
            inputs = self.collect_inputs()
            paused = pause.state.evolve(message=verdict.reason, cached_inputs=inputs)
            return self.transition(state, paused)
        error = TriggerFailedError(self.label, verdict.reason)  # a TRIGGERFAIL: the result
        error.__cause__ = raised
        return self.transition(state, error.state)

    # ---- attempts ----------------------------------------------------------------------------
    def run_attempts(self, state: State) -> State:
        """Attempts (and loop iterations) from ``state`` until the run ends or waits."""
        loop = position_of(state) if state.is_looped() or state.is_retrying() else None
        run_count = 0 if loop is not None and state.is_looped() else state.run_count
        kwargs = self.collect_inputs(state)
        while True:
            run_count += 1
            state = self.transition(state, Running("Starting task run."))
            if not state.is_running():  # a state handler decided otherwise
                return state
            task, label = self.task, self.label
            if run_count == self.run_count and loop is None:  # the usual case, no frame more
                outcome, retryable = call_body(task, label, kwargs, self.verbose, run_count)
            else:
                outcome, retryable = self.attempt(kwargs, run_count, loop)
            if outcome.kind is StateKind.SUCCESS and is_persistent(self.task):  # persistence
                outcome = checkpoint(self, kwargs, outcome)  # hook: store the result
            state = self.transition(state, outcome)
            if state.kind is _LOOPED:  # the next iteration, with retries of its own
                loop = position_of(state)
                assert loop is not None
                logger.debug("Task %r: iteration %d looped.", self.label, loop.iteration - 1)
                run_count = 0
                continue
            delay = retry_delay(self.task, state, run_count) if retryable else None
            if delay is None:
                return state
            delay = requested_delay(state, delay)
            state = self.retrying(state, run_count, delay, loop)
            if not state.is_retrying():  # a state handler decided otherwise
                return state
            run_count = state.run_count  # RETRY(run_count=...) may have set it
            sleep = self.sleep
            if isinstance(sleep, SinglePass):  # the caller runs the next attempt when due
                return state
            if delay > 0:
                if isinstance(sleep, RetryLater):  # the caller waits, then resumes this run
                    sleep.hold(self, state, delay)
                    return state
                sleep(delay)

    def attempt(
        self, kwargs: dict[str, Any], run_count: int, loop: LoopPosition | None
    ) -> tuple[State, bool]:
        """One call of the body; user code sees which attempt (and iteration) this is."""
        task, label, verbose = self.task, self.label, self.verbose
        keys = {**current(), "task_run_count": run_count}
        if loop is not None:
            keys.update(iteration_keys(loop))
        token = enter(keys)
        try:
            return call_body(task, label, kwargs, verbose, run_count)
        finally:
            leave(token)

    def retrying(
        self, state: State, run_count: int, delay: float, loop: LoopPosition | None
    ) -> State:
        """The ``Retrying`` state after attempt ``run_count`` ended in ``state``, due in
        ``delay`` seconds; logged (one line per attempt that is retried)."""
        message = "Task %r: attempt %d ended %r; next attempt in %g seconds."
        logger.info(message, self.label, run_count, state.name, delay)
        start_time = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=delay)
        context = iteration_keys(loop) if loop is not None else None
        if not state.is_retrying():
            retrying = Retrying(
                f"Retrying task {self.label!r} (attempt {run_count + 1}).",
                start_time=start_time,
                run_count=run_count,
                context=context,
            )
            return self.transition(state, retrying)  # handlers see the attempts made
        return stamp_retrying(state, start_time, run_count, context)

    # ---- inputs --------------------------------------------------------------------------------
    def collect_inputs(self, state: State | None = None) -> dict[str, Any]:
        """Keyword arguments for ``run``: constants, then one per data edge."""
        if state is not None and state.cached_inputs is not None:
            return dict(state.cached_inputs)
        kwargs = dict(self.inputs)
        for edge, upstream in self.upstream_states.items():
            key = getattr(edge, "key", None)
            if key is not None:
                kwargs[key] = upstream.read_result(False)
        return kwargs

    # ---- transitions ----------------------------------------------------------------------------
    def transition(self, old: State, new: State) -> State:
        """Move to ``new``, through the state handlers if the task has any."""
        check_transition(self.label, old, new)
        task = self.task
        if task.state_handlers or task.on_failure is not None:
            return call_handlers(task, self.label, old, new)
        return new
