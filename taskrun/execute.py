"""The task-run executor: one function runs a task run end to end and returns its state.

``run_task`` is the only place that calls user code. It reads as a sequence of
named checks, each of which may end the run:

    finished already? -> upstream finished? -> upstream skipped? -> trigger
    -> [Running -> body (timeout, signals) -> Failed? -> Retrying -> sleep]* -> final state

Every state change goes through the task's state handlers, in order. The function
never raises: errors (including orchestrator bugs) become ``Failed`` states.
Its own log lines (the run's start and end, one line per attempt that retries) can be
turned off per run with the run-context key ``executor_logs=False`` (the ``@flow``
futures API logs task runs its own way). It runs unchanged in-process and inside a Dask
worker; only ``sleep`` differs: in-process runners wait in the calling thread
(``time.sleep``), a Dask worker passes a ``RetryLater``, gets the ``Retrying`` state
back and waits on its event loop, holding no thread, before it resumes the run.

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

from taskrun.body_call import call_body, logger
from taskrun.context import current, enter, leave
from taskrun.errors import MissingInputError, TriggerFailedError
from taskrun.retries import RetryLater, SinglePass, retry_delay
from taskrun.run_keys import run_keys
from taskrun.states import (
    FINISHED,
    SUCCESSFUL,
    Failed,
    Paused,
    Pending,
    Retrying,
    Running,
    Skipped,
    State,
    StateKind,
    TriggerFailed,
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
_SKIPPED = StateKind.SKIPPED
#: the state a run given none starts from, when no state handler is there to see it: the
#: executor never changes or returns it, so one instance serves every such run
_UNSEEN_PENDING = Pending()


class _HandlerFailed(Exception):
    """A state handler raised; carries the Failed state the task ends in."""

    def __init__(self, state: State) -> None:
        super().__init__(state.message)
        self.state = state


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

    __slots__ = ("inputs", "keys", "label", "run_count", "sleep", "task", "upstream_states",
                 "verbose")  # fmt: skip

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

    # ---- the sequence of checks ------------------------------------------------------------
    def run(self, initial: State | None, is_start_task: bool, mapping_problem: str | None) -> State:
        if initial is not None:
            state = initial
        else:  # a fresh Pending only when a handler will see it as the first old state
            state = Pending() if self.task.state_handlers else _UNSEEN_PENDING
        if state.is_finished() or _not_due(state):
            return state
        try:
            if not is_start_task and not state.is_resume():
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
            return self.finished(self.run_attempts(state))
        except _HandlerFailed as failure:
            return failure.state

    def resume(self, retrying: State) -> State:
        """The attempts after ``retrying``, for ``RetryLater.resume``; never raises."""
        token = enter(self.keys)
        try:
            return self.finished(self.run_attempts(retrying))
        except _HandlerFailed as failure:
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
        if verdict.decision is Decision.RUN:
            return None
        if verdict.decision is Decision.SKIP:
            return self.transition(state, Skipped(verdict.reason or "Trigger asked to skip."))
        if verdict.decision is Decision.PAUSE:
            return self.transition(
                state, Paused(verdict.reason, cached_inputs=self.collect_inputs())
            )
        error = TriggerFailedError(self.label, verdict.reason)
        return self.transition(state, TriggerFailed(str(error), error))

    # ---- attempts ----------------------------------------------------------------------------
    def run_attempts(self, state: State) -> State:
        run_count = state.run_count
        kwargs = self.collect_inputs(state)
        while True:
            run_count += 1
            state = self.transition(state, Running("Starting task run."))
            if not state.is_running():  # a state handler decided otherwise
                return state
            task, label, verbose = self.task, self.label, self.verbose
            if run_count == self.run_count:
                outcome, retryable = call_body(task, label, kwargs, verbose, run_count)
            else:  # user code sees which attempt this is
                token = enter({**current(), "task_run_count": run_count})
                try:
                    outcome, retryable = call_body(task, label, kwargs, verbose, run_count)
                finally:
                    leave(token)
            state = self.transition(state, outcome)
            delay = retry_delay(self.task, state, run_count) if retryable else None
            if delay is None:
                return state
            state = self.retrying(state, run_count, delay)
            sleep = self.sleep
            if isinstance(sleep, SinglePass):  # the caller runs the next attempt when due
                return state
            if delay > 0:
                if isinstance(sleep, RetryLater):  # the caller waits, then resumes this run
                    sleep.hold(self, state, delay)
                    return state
                sleep(delay)

    def retrying(self, state: State, run_count: int, delay: float) -> State:
        """The ``Retrying`` state after attempt ``run_count`` ended in ``state`` (logged)."""
        if self.verbose:
            message = "Task %r: attempt %d ended %r; next attempt in %g seconds."
            logger.info(message, self.label, run_count, state.name, delay)
        if not state.is_retrying():
            start_time = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=delay)
            message = f"Retrying task {self.label!r} (attempt {run_count + 1})."
            retrying = Retrying(message, start_time=start_time, run_count=run_count)
            state = self.transition(state, retrying)  # handlers see the attempts made
        if state.run_count != run_count:  # a RETRY signal's state, or a handler's
            state = state.evolve(run_count=run_count)
        return state

    # ---- inputs --------------------------------------------------------------------------------
    def collect_inputs(self, state: State | None = None) -> dict[str, Any]:
        """Keyword arguments for ``run``: constants, then one per data edge."""
        if state is not None and state.cached_inputs is not None:
            return dict(state.cached_inputs)
        kwargs = dict(self.inputs)
        for edge, upstream in self.upstream_states.items():
            key = getattr(edge, "key", None)
            if key is not None:
                kwargs[key] = upstream.result(raise_on_failure=False)
        return kwargs

    # ---- transitions ----------------------------------------------------------------------------
    def transition(self, old: State, new: State) -> State:
        """Move to ``new`` through the state handlers; a raising handler fails the task."""
        check_transition(self.label, old, new)
        for handler in self.task.state_handlers or ():
            try:
                returned = handler(self.task, old, new)
            except Exception as err:
                failed = Failed(
                    f"Task {self.label!r}: state handler "
                    f"{getattr(handler, '__name__', handler)!r} raised {err!r}.",
                    err,
                )
                raise _HandlerFailed(failed) from err
            new = returned if isinstance(returned, State) else new
        on_failure = self.task.on_failure
        if on_failure is not None and new.is_failed():
            try:
                on_failure(self.task, new)
            except Exception as err:
                raise _HandlerFailed(
                    Failed(f"Task {self.label!r}: on_failure raised {err!r}.", err)
                ) from err
        return new


def _not_due(state: State) -> bool:
    """A scheduled state (Scheduled, Retrying) whose start time is still ahead: the run
    waits for it, so this pass returns the state as it is (Prefect 1's start-time check)."""
    start = state.start_time
    if start is None or not state.is_scheduled() or state.is_resume():
        return False
    if start.tzinfo is None:  # naive datetimes are UTC
        start = start.replace(tzinfo=_dt.UTC)
    return start > _dt.datetime.now(_dt.UTC)
