"""State handlers: every state change of a task run goes through them, in order.

``call_handlers`` is the executor's (``taskrun.execute``) move to a new state when the task
has handlers (``state_handlers``, ``on_failure``). Each handler sees
``(task, old_state, new_state)`` and may return a state to replace ``new_state``. What a
raising handler does, as in Prefect 1:

    raised                        the move ends in
    a signal (RETRY, PAUSE,       that signal's state (ENDRUN: the state it carries); the
    FAIL, SKIP, LOOP, ENDRUN)     handlers after it are not called
    any other exception           the task fails ("state handler ... raised"), logged with
                                  its traceback; the run ends there (``HandlerFailed``)

``on_failure(task, state)`` runs after the handlers when the new state is failed; if it
raises, the task fails the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from taskrun import signals
from taskrun.states import Failed, State
from taskrun.task_protocol import TaskLike

logger = logging.getLogger("orchestrator.TaskRunner")


class HandlerFailed(Exception):
    """A state handler raised an error (not a signal); carries the Failed state the task
    ends in. Raised by ``call_handlers``, caught by the executor."""

    def __init__(self, state: State) -> None:
        super().__init__(state.message)
        self.state = state


def call_handlers(task: TaskLike, label: str, old: State, new: State) -> State:
    """The state the move from ``old`` to ``new`` ends in, through ``task``'s handlers.

    Raises:
        HandlerFailed: a handler (or ``on_failure``) raised an exception that is no signal.
    """
    for handler in task.state_handlers or ():
        try:
            returned = handler(task, old, new)
        except signals.Signal as signal:
            logger.debug(
                "Task %r: state handler %r raised %s; the task moves to %s.",
                label, _name(handler), type(signal).__name__, signal.state.name,
            )  # fmt: skip
            new = signal.state
            break
        except Exception as err:
            raise _failed(label, f"state handler {_name(handler)!r}", err, _name(handler)) from err
        new = returned if isinstance(returned, State) else new
    on_failure = task.on_failure
    if on_failure is not None and new.is_failed():
        try:
            on_failure(task, new)
        except Exception as err:
            raise _failed(label, "on_failure", err, _name(on_failure)) from err
    return new


def _failed(label: str, what: str, err: Exception, handler: str) -> HandlerFailed:
    logger.exception("Task %r: handler %r raised %r; the task fails.", label, handler, err)
    message = (
        f"Task {label!r}: {what} raised {err!r}. A handler that should change the state "
        "returns the new state or raises a signal (FAIL, RETRY, SKIP, PAUSE, ENDRUN)."
    )
    return HandlerFailed(Failed(message, err))


def _name(handler: Any) -> str:
    return str(getattr(handler, "__name__", handler))
