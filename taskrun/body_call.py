"""The body call: one attempt at a task's ``run``, as the state it ends in.

The executor calls the body only through ``call_body``. It applies the task's
``timeout`` and ``log_stdout`` (``print`` output becomes records of the task's logger),
and turns whatever the body did into a state, and whether retries may apply to the state
the run moves to (a state handler may still turn a success into a failure):

    the body              state                               retries may apply
    returned a value      Success, the value as its result    yes
    raised a signal       the state the signal asks for       yes, except for TRIGGERFAIL
                          (its ``.state``, stamped)
    raised ENDRUN(state)  that state                          no
    raised an error       Failed, the error as its result     yes
    took too long         TimedOut                            yes

A body with a ``timeout`` runs, by default (``timeout_isolation="process"``), in a child
process that is killed when the timeout passes (``taskrun.isolated``): the attempt ends
only once the body is gone, so a retry never overlaps it. With
``timeout_isolation="thread"`` it runs in a daemon thread (context copied) instead: the
timeout is reported on time, but Python cannot stop a thread, so the body runs on,
abandoned, its result ignored. A ``TimeoutError`` the body raises itself is an error
like any other (``Failed``), not a timeout.

On the hot path (no timeout, no captured output) the body is called directly.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import threading
import time
from typing import Any

from taskrun import signals
from taskrun.context import current
from taskrun.isolated import BodyTimedOut, call_isolated
from taskrun.logs import capture_stdout, task_logger
from taskrun.loops import LOOP_COUNT
from taskrun.states import Failed, State, Success, TimedOut
from taskrun.task_protocol import TaskLike

#: the executor's logger (the Dask worker plugin tags its records with their task run)
logger = logging.getLogger("orchestrator.TaskRunner")
#: the values of a task's ``timeout_isolation`` (a task without the attribute: PROCESS)
PROCESS, THREAD = "process", "thread"
#: the thread that opened ``raise_on_exception()``: a body run in it lets its error escape
#: the run as ``BodyRaised`` (other threads and Dask workers turn it into a state as usual)
RAISE_ON_EXCEPTION: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "orchestrator_raise_on_exception", default=None
)


class BodyRaised(BaseException):
    """Carries a body's ``error`` out of a run under ``raise_on_exception()``; a
    ``BaseException`` so that no ``except Exception`` on the way turns it into a state."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def call_body(
    task: TaskLike, label: str, kwargs: dict[str, Any], verbose: bool, run_count: int
) -> tuple[State, bool]:
    """Call ``task.run(**kwargs)`` once (attempt ``run_count``); return the outcome state,
    carrying the attempt count and the body's duration, and whether retries may apply.
    ``label`` names the run in messages; ``verbose`` logs a raised error."""
    timeout = task.timeout
    started = time.perf_counter()
    try:
        if timeout is None and not task.log_stdout:
            value = task.run(**kwargs)  # the usual case, without the _call_user frame
        elif timeout is None:
            value = _call_user(task, kwargs)
        elif getattr(task, "timeout_isolation", PROCESS) == THREAD:
            value = _call_in_thread(task, kwargs, timeout)
        else:
            value = _call_in_process(task, label, kwargs, timeout)
    except BodyTimedOut:
        outcome, retryable = _timed_out(task, label, timeout), True
    except signals.ENDRUN as signal:
        outcome, retryable = signal.state, False
    except signals.Signal as signal:
        duration = time.perf_counter() - started
        return _signalled(signal, kwargs, duration, run_count), not isinstance(
            signal, signals.TRIGGERFAIL
        )
    except Exception as err:
        if RAISE_ON_EXCEPTION.get() == threading.get_ident():  # utilities.debug
            raise BodyRaised(err) from err
        if verbose:
            logger.error("Task %r: run raised %r", label, err, exc_info=True)
        outcome, retryable = Failed("Task run encountered an exception.", err), True
    else:  # the hot path builds its state with the fields at once (no copy)
        duration = time.perf_counter() - started
        return Success("Task run succeeded.", value, duration=duration, run_count=run_count), True
    # a signal's state may be the user's own object: stamp a copy of it
    return outcome.evolve(duration=time.perf_counter() - started, run_count=run_count), retryable


def _signalled(
    signal: signals.Signal, kwargs: dict[str, Any], duration: float, run_count: int
) -> State:
    """The state a signal raised by the body asks for, stamped with the attempt (a copy:
    the signal's state is the user's object). A PAUSE or LOOP keeps the inputs, for the
    resumed run or the next iteration; a LOOP records its iteration (``taskrun.loops``);
    ``RETRY(run_count=...)`` keeps the count it gives."""
    state = signal.state
    if isinstance(signal, signals.RETRY) and signal.run_count is not None:
        run_count = state.run_count
    if isinstance(signal, signals.LOOP):
        count = current().get(LOOP_COUNT, 1)
        return state.evolve(
            message=state.message or f"Task is looping (iteration {count}).",
            duration=duration,
            run_count=run_count,
            cached_inputs=dict(kwargs),
            context={**state.context, LOOP_COUNT: count},
        )
    if isinstance(signal, signals.PAUSE):
        return state.evolve(duration=duration, run_count=run_count, cached_inputs=dict(kwargs))
    return state.evolve(duration=duration, run_count=run_count)


def _timed_out(task: TaskLike, label: str, timeout: float | None) -> State:
    if getattr(task, "timeout_isolation", PROCESS) == THREAD:
        what = "its body runs on, abandoned: timeout_isolation='thread' cannot stop it"
    else:
        what = "its process was stopped"
    message = (
        f"Task {label!r} timed out after {timeout} seconds ({what}); raise its 'timeout' "
        "if it needs longer."
    )
    return TimedOut(message, TimeoutError(message))


def _call_user(task: TaskLike, kwargs: dict[str, Any]) -> Any:
    if task.log_stdout:
        with capture_stdout(task_logger(task.name)):
            return task.run(**kwargs)
    return task.run(**kwargs)


def _call_in_process(task: TaskLike, label: str, kwargs: dict[str, Any], timeout: float) -> Any:
    """The body in a child process, stopped at ``timeout``; prints come back through this
    thread's ``sys.stdout``, so ``log_stdout`` captures them here."""
    if task.log_stdout:
        with capture_stdout(task_logger(task.name)):
            return call_isolated(task.run, kwargs, timeout, label)
    return call_isolated(task.run, kwargs, timeout, label)


def _call_in_thread(task: TaskLike, kwargs: dict[str, Any], timeout: float) -> Any:
    """Run the body in a daemon thread (context copied) and wait at most ``timeout`` seconds."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            future.set_result(ctx.run(_call_user, task, kwargs))
        except BaseException as err:
            future.set_exception(err)

    threading.Thread(target=target, daemon=True, name="orchestrator-timeout").start()
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        if future.done():  # the body raised TimeoutError itself, just in time
            raise
        raise BodyTimedOut() from None
