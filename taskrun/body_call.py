"""The body call: one attempt at a task's ``run``, as the state it ends in.

The executor calls the body only through ``call_body``. It applies the task's
``timeout`` (the body then runs in a daemon thread, context copied; a body that times
out cannot be killed from Python, so its thread is abandoned and its result ignored)
and ``log_stdout`` (``print`` output becomes records of the task's logger), and turns
whatever the body did into a state, and whether retries may apply to the state the
run moves to (a state handler may still turn a success into a failure):

    the body              state                               retries may apply
    returned a value      Success, the value as its result    yes
    raised a signal       the state the signal asks for       yes, except for TRIGGERFAIL
    raised ENDRUN(state)  that state                          no
    raised an error       Failed, the error as its result     yes
    took too long         TimedOut                            yes

On the hot path (no timeout, no captured output) the body is called directly.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import threading
from typing import Any

from taskrun import signals
from taskrun.logs import capture_stdout, task_logger
from taskrun.states import Failed, State, Success, TimedOut
from taskrun.task_protocol import TaskLike

#: the executor's logger (the Dask worker plugin tags its records with their task run)
logger = logging.getLogger("orchestrator.TaskRunner")


def call_body(
    task: TaskLike, label: str, kwargs: dict[str, Any], verbose: bool
) -> tuple[State, bool]:
    """Call ``task.run(**kwargs)`` once; return the outcome state and whether retries may
    apply. ``label`` names the run in messages; ``verbose`` logs a raised error."""
    timeout = task.timeout
    try:
        if timeout is None and not task.log_stdout:
            value = task.run(**kwargs)  # the usual case, without the _call_user frame
        elif timeout is None:
            value = _call_user(task, kwargs)
        else:
            value = _call_with_timeout(task, kwargs, timeout)
    except concurrent.futures.TimeoutError:
        message = (
            f"Task {label!r} timed out after {timeout} seconds; raise its "
            "'timeout' if it needs longer."
        )
        return TimedOut(message, TimeoutError(message)), True
    except signals.ENDRUN as signal:
        return signal.state, False
    except signals.Signal as signal:
        return signals.state_for_signal(signal), not isinstance(signal, signals.TRIGGERFAIL)
    except Exception as err:
        if verbose:
            logger.error("Task %r: run raised %r", label, err, exc_info=True)
        return Failed("Task run encountered an exception.", err), True
    return Success("Task run succeeded.", value), True


def _call_user(task: TaskLike, kwargs: dict[str, Any]) -> Any:
    if task.log_stdout:
        with capture_stdout(task_logger(task.name)):
            return task.run(**kwargs)
    return task.run(**kwargs)


def _call_with_timeout(task: TaskLike, kwargs: dict[str, Any], timeout: float) -> Any:
    """Run the body in a daemon thread (context copied) and wait at most ``timeout`` seconds."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            future.set_result(ctx.run(_call_user, task, kwargs))
        except BaseException as err:
            future.set_exception(err)

    threading.Thread(target=target, daemon=True, name="orchestrator-timeout").start()
    return future.result(timeout=timeout)
