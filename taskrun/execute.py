"""The task-run executor: one function runs a task run end to end and returns its state.

``run_task`` is the only place that calls user code. It reads as a sequence of
named checks, each of which may end the run:

    finished already? -> upstream finished? -> upstream skipped? -> trigger
    -> [Running -> body (timeout, signals) -> Failed? -> Retrying -> sleep]* -> final state

Every state change goes through the task's state handlers, in order. The function
never raises: errors (including orchestrator bugs) become ``Failed`` states.
Its own log lines can be turned off per run with the run-context key
``executor_logs=False`` (the ``@flow`` futures API logs task runs its own way). It runs
unchanged in-process and inside a Dask worker; only ``sleep`` differs (a Dask worker
passes one that secedes from its thread pool while it waits).

This is the hot path of every task run (a few microseconds of it per run matter on
maps of a million children), hence: one context dict per run set straight on the
ContextVar (``run_keys``), one pass over the upstream kinds for the three upstream
checks, the default trigger answered without a call when every upstream succeeded,
and no initial ``Pending`` built when no state handler can see it.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import Any

from taskrun import signals
from taskrun.context import current, enter, leave
from taskrun.logs import capture_stdout, task_logger
from taskrun.run_keys import run_keys
from taskrun.states import (
    FINISHED,
    SUCCESSFUL,
    Failed,
    Mapped,
    Paused,
    Pending,
    Retrying,
    Running,
    Skipped,
    State,
    StateKind,
    Success,
    TimedOut,
    TriggerFailed,
)
from taskrun.transitions import check_transition
from taskrun.triggers import (
    Decision,
    TriggerResult,
    all_successful,
    edge_label,
    flatten_upstream,
    upstream_kinds,
)

logger = logging.getLogger("orchestrator.TaskRunner")

Sleep = Callable[[float], None]
Kinds = set[StateKind]

_NOTHING: Mapping[Any, Any] = MappingProxyType({})
_SKIPPED = StateKind.SKIPPED
#: the state a run given none starts from, when no state handler is there to see it: the
#: executor never changes or returns it, so one instance serves every such run
_UNSEEN_PENDING = Pending()


class TriggerFailedError(Exception):
    """The result of a ``TriggerFailed`` state: why the trigger did not pass."""

    def __init__(self, task_name: str, reason: str) -> None:
        super().__init__(task_name, reason)
        self.task_name = task_name
        self.reason = reason

    def __str__(self) -> str:
        return f"Task {self.task_name!r}: trigger did not pass. {self.reason}"


class MissingInputError(Exception):
    """The result of a start or resumed task's ``Failed`` state when its data is unknown.

    A start task skips the upstream checks, but a data edge still needs the upstream
    result: an earlier run's state passed in ``task_states``.
    """

    def __init__(self, task_name: str, missing: list[tuple[str, str]]) -> None:
        super().__init__(task_name, missing)
        self.task_name = task_name
        #: (argument, upstream task) pairs whose upstream has no finished state
        self.missing = missing

    def __str__(self) -> str:
        shown = ", ".join(f"argument {arg!r} from task {up}" for arg, up in self.missing)
        return (
            f"Task {self.task_name!r}: cannot start without its inputs: {shown} did not "
            "finish in this flow run. Pass the earlier run's states, e.g. flow.run(task_states="
            "{**paused_flow_state.result(), task: Resume()}, start_tasks=[task])."
        )


class _HandlerFailed(Exception):
    """A state handler raised; carries the Failed state the task ends in."""

    def __init__(self, state: State) -> None:
        super().__init__(state.message)
        self.state = state


def run_task(
    task: Any,
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
    task: Any,
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
        logger.exception("Task %r: unexpected error in the task-run executor", run.label)
        return Failed(
            f"Orchestrator error while running task {run.label!r}: {err!r}. "
            "This is a bug in the orchestrator, please report it.",
            err,
        )
    finally:
        leave(token)


class _TaskRun:
    """The bookkeeping of one task run; lives only inside ``run_task``."""

    __slots__ = ("inputs", "keys", "label", "run_count", "sleep", "task", "upstream_states",
                 "verbose")  # fmt: skip

    def __init__(
        self,
        task: Any,
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
            state = Pending() if getattr(self.task, "state_handlers", None) else _UNSEEN_PENDING
        if state.is_finished():
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
            final = self.run_attempts(state)
            if self.verbose:
                logger.info(
                    "Task %r: finished task run for task with final state: %r",
                    self.label,
                    final.name,
                )
            return final
        except _HandlerFailed as failure:
            return failure.state

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
                (edge.key, edge_label(edge))
                for edge, upstream in flatten_upstream(self.upstream_states)
                if getattr(edge, "key", None) is not None and not upstream.is_finished()
            }
        )
        if not missing:
            return None
        error = MissingInputError(self.label, missing)
        return self.transition(state, Failed(str(error), error))

    def check_upstream_skipped(self, state: State, kinds: Kinds) -> State | None:
        if _SKIPPED not in kinds or not getattr(self.task, "skip_on_upstream_skip", True):
            return None
        return self.transition(state, Skipped("Upstream task was skipped; skipping this task."))

    def check_trigger(self, state: State, kinds: Kinds) -> State | None:
        trigger = getattr(self.task, "trigger", None)
        if trigger is None:
            trigger = all_successful
        if trigger is all_successful and kinds <= SUCCESSFUL:
            return None  # what the default trigger answers, without asking it
        verdict = _evaluate_trigger(trigger, self.upstream_states)
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
            started = time.perf_counter()
            if run_count == self.run_count:
                outcome, retryable = self.call_body(kwargs)
            else:  # user code sees which attempt this is
                token = enter({**current(), "task_run_count": run_count})
                try:
                    outcome, retryable = self.call_body(kwargs)
                finally:
                    leave(token)
            outcome.duration = time.perf_counter() - started
            state = self.transition(state, outcome)
            delay = self.retry_delay(state, run_count) if retryable else None
            if delay is None:
                return state
            start_time = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=delay)
            if not state.is_retrying():
                message = f"Retrying task {self.label!r} (attempt {run_count + 1})."
                state = self.transition(state, Retrying(message, start_time=start_time))
            state.run_count = run_count
            if delay > 0:
                self.sleep(delay)

    def retry_delay(self, state: State, run_count: int) -> float | None:
        """Seconds to wait before the next attempt, or None when the run is over."""
        if not state.is_retrying():
            if not state.is_failed() or state.is_trigger_failed():
                return None
            if run_count > (getattr(self.task, "max_retries", 0) or 0):
                return None
            retry_on = getattr(self.task, "retry_on", None)
            error = state.data
            if retry_on and not (
                isinstance(error, BaseException) and isinstance(error, tuple(retry_on))
            ):
                return None
        configured = getattr(self.task, "retry_delay", None)
        return configured.total_seconds() if configured is not None else 0.0

    def call_body(self, kwargs: dict[str, Any]) -> tuple[State, bool]:
        """Call the body; return the outcome state and whether retries may apply."""
        task = self.task
        timeout = getattr(task, "timeout", None)
        try:
            if timeout is None and not getattr(task, "log_stdout", False):
                value = task.run(**kwargs)  # the usual case, without the call_user frame
            elif timeout is None:
                value = self.call_user(kwargs)
            else:
                value = _call_with_timeout(self.call_user, kwargs, timeout)
        except concurrent.futures.TimeoutError:
            message = (
                f"Task {self.label!r} timed out after {timeout} seconds; raise its "
                "'timeout' if it needs longer."
            )
            return TimedOut(message, TimeoutError(message)), True
        except signals.ENDRUN as signal:
            return signal.state, False
        except signals.Signal as signal:
            return signals.state_for_signal(signal), not isinstance(signal, signals.TRIGGERFAIL)
        except Exception as err:
            if self.verbose:
                logger.error("Task %r: run raised %r", self.label, err, exc_info=True)
            return Failed("Task run encountered an exception.", err), True
        return Success("Task run succeeded.", value), True

    def call_user(self, kwargs: dict[str, Any]) -> Any:
        if getattr(self.task, "log_stdout", False):
            with capture_stdout(task_logger(self.task.name)):
                return self.task.run(**kwargs)
        return self.task.run(**kwargs)

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
        for handler in getattr(self.task, "state_handlers", None) or ():
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
        on_failure = getattr(self.task, "on_failure", None)
        if on_failure is not None and new.is_failed():
            try:
                on_failure(self.task, new)
            except Exception as err:
                raise _HandlerFailed(
                    Failed(f"Task {self.label!r}: on_failure raised {err!r}.", err)
                ) from err
        return new


def _evaluate_trigger(
    trigger: Callable[..., Any], upstream_states: Mapping[Hashable, State]
) -> TriggerResult:
    """Call a task's trigger; accept bools and raised signals from custom triggers."""
    try:
        verdict = trigger(upstream_states)
    except signals.PAUSE as signal:
        return TriggerResult(Decision.PAUSE, signal.message or "Trigger paused the task.")
    except signals.SKIP as signal:
        return TriggerResult(Decision.SKIP, signal.message or "Trigger skipped the task.")
    except signals.Signal as signal:
        return TriggerResult(
            Decision.FAIL, signal.message or f"Trigger {trigger.__name__!r} failed."
        )
    except Exception as err:
        name = getattr(trigger, "__name__", trigger)
        return TriggerResult(
            Decision.FAIL,
            f"Trigger {name!r} raised {err!r}; a trigger should "
            "return True/False or a TriggerResult (or raise a signal).",
        )
    if isinstance(verdict, TriggerResult):
        return verdict
    if verdict:
        return TriggerResult(Decision.RUN)
    return TriggerResult(
        Decision.FAIL, f"Trigger {getattr(trigger, '__name__', trigger)!r} returned False."
    )


def _call_with_timeout(
    call: Callable[[dict[str, Any]], Any], kwargs: dict[str, Any], timeout: float
) -> Any:
    """Run ``call`` in a daemon thread (context copied) and wait at most ``timeout`` seconds.

    A timed-out body cannot be killed from Python; its thread is abandoned and its
    result ignored.
    """
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            future.set_result(ctx.run(call, kwargs))
        except BaseException as err:
            future.set_exception(err)

    threading.Thread(target=target, daemon=True, name="orchestrator-timeout").start()
    return future.result(timeout=timeout)


def reduce_state(children: list[State]) -> State:
    """The state a reducing downstream sees for a mapped upstream: its children."""
    return Mapped("Mapped children finished.", map_states=children)
