"""Signals: exceptions user code raises to ask for a specific state.

The task-run executor (``taskrun.execute``) is the one place that catches them;
``SIGNAL_STATES`` maps each signal to the state it requests. Orchestrator
internals never steer with signals.
"""

from __future__ import annotations

from typing import Any

from taskrun import states


class Signal(Exception):
    """Base of the public signals; carries a message and an optional result."""

    def __init__(self, message: str | None = None, *args: Any, result: Any = None) -> None:
        super().__init__(message, *args)
        self.message = message
        self.result = result

    def __str__(self) -> str:
        return self.message if self.message is not None else f"{type(self).__name__} signal raised"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_signal, (type(self), self.message, self.result))


def _rebuild_signal(cls: type[Signal], message: str | None, result: Any) -> Signal:
    return cls(message, result=result)


class SUCCESS(Signal):
    """Finish the task as successful, with ``result`` as its value."""


class FAIL(Signal):
    """Fail the task (retries still apply)."""


class TRIGGERFAIL(FAIL):
    """Fail because the trigger did not pass; never retried."""


class TIMEOUT(FAIL):
    """Fail because the task ran past its timeout."""


class RETRY(Signal):
    """Retry after ``retry_delay`` (1 s without one), even when ``max_retries`` is spent."""


class SKIP(Signal):
    """Skip the task; downstream tasks skip too unless ``skip_on_upstream_skip=False``."""


class PAUSE(Signal):
    """Pause the task until someone resumes it."""


class ENDRUN(Signal):
    """End the run in exactly ``state``: no retries, nothing else decided."""

    def __init__(self, state: states.State | None = None) -> None:
        state = state if state is not None else states.Failed("ENDRUN raised without a state.")
        super().__init__(state.message)
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        return (ENDRUN, (self.state,))


#: the state each signal requests; a test checks every Signal subclass is listed
SIGNAL_STATES: dict[type[Signal], type[states.State]] = {
    SUCCESS: states.Success,
    FAIL: states.Failed,
    TRIGGERFAIL: states.TriggerFailed,
    TIMEOUT: states.TimedOut,
    RETRY: states.Retrying,
    SKIP: states.Skipped,
    PAUSE: states.Paused,
    ENDRUN: states.State,
}


def state_for_signal(signal: Signal) -> states.State:
    """Build the state a raised signal asks for."""
    if isinstance(signal, ENDRUN):
        return signal.state
    cls = SIGNAL_STATES[type(signal)] if type(signal) in SIGNAL_STATES else _nearest(signal)
    result = signal.result
    if cls is states.Failed or issubclass(cls, states.Failed):
        result = signal
    return cls(signal.message, result)


def _nearest(signal: Signal) -> type[states.State]:
    for klass in type(signal).__mro__:
        if klass in SIGNAL_STATES:
            return SIGNAL_STATES[klass]
    return states.Failed
