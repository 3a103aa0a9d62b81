"""Signals: exceptions user code raises to ask for a specific state.

The task-run executor (``taskrun.execute``) is the one place that catches them, from a
task's body, its trigger or its state handlers. Each signal carries the state it stands
for in ``.state``, built when it is raised; ``SIGNAL_STATES`` maps each signal class to its
state class and ``signal_from_state`` goes back. As in Prefect 1, the state's result is
the signal itself unless ``result=`` is given, so ``Skipped(...).result()`` is the ``SKIP``
that caused it; ``SUCCESS`` and ``LOOP`` without a result are the exceptions (their result
is None, not the signal: a value downstream tasks or the next iteration receive should not
be an exception).

    raise RETRY("later", start_time=when)      # Retrying due at ``when`` (naive: UTC)
    raise PAUSE(start_time=when)               # Paused until ``when`` (default: 10 years)
    raise LOOP(result=partial, message="...")  # Looped: the task runs again with it

Orchestrator internals never steer with signals.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from taskrun import states


class _SelfResult:
    """The default of ``result=``: the state's result is then the signal itself."""

    def __repr__(self) -> str:
        return "<the signal>"


_SELF: Any = _SelfResult()


class Signal(Exception):
    """Base of the public signals; carries a message, a result and its ``state``.

    Args:
        message: why, for people; also the state's message.
        result: the state's result (default: this signal, as in Prefect 1).
        state_fields: further fields of the state (``start_time``, ``run_count``, ...).
    """

    #: the state class this signal asks for (``SIGNAL_STATES`` lists them all); a signal
    #: class of the user's own, derived from ``Signal`` itself, fails the task
    state_class: type[states.State] = states.Failed

    def __init__(
        self, message: str | None = None, *args: Any, result: Any = _SELF, **state_fields: Any
    ) -> None:
        super().__init__(message, *args)
        self.message = message
        self._given = result
        self._fields = state_fields
        #: the result given (None when none was: then the state holds the signal)
        self.result = None if result is _SELF else result
        #: the state this signal stands for
        self.state: states.State = self.state_class(
            message, self._state_result(result), **_utc(state_fields)
        )

    def _state_result(self, given: Any) -> Any:
        return self if given is _SELF else given

    def __str__(self) -> str:
        return self.message if self.message is not None else f"{type(self).__name__} signal raised"

    def __reduce__(self) -> tuple[Any, ...]:
        # the state is rebuilt, not pickled: it may hold this signal (a cycle)
        is_self = self._given is _SELF
        given = None if is_self else self._given
        return (_rebuild_signal, (type(self), self.message, given, is_self, self._fields))


def _utc(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with a naive ``start_time`` made UTC (only when there is one)."""
    start = fields.get("start_time")
    if isinstance(start, _dt.datetime) and start.tzinfo is None:
        return {**fields, "start_time": start.replace(tzinfo=_dt.UTC)}
    return fields


def _rebuild_signal(
    cls: type[Signal], message: str | None, result: Any, is_self: bool, fields: dict[str, Any]
) -> Signal:
    if is_self:
        return cls(message, **fields)
    return cls(message, result=result, **fields)


class SUCCESS(Signal):
    """Finish the task as successful, with ``result`` as its value (None if not given)."""

    state_class = states.Success

    def _state_result(self, given: Any) -> Any:
        return None if given is _SELF else given


class FAIL(Signal):
    """Fail the task (retries still apply)."""

    state_class = states.Failed


class TRIGGERFAIL(FAIL):
    """Fail because the trigger did not pass; never retried."""

    state_class = states.TriggerFailed


class VALIDATIONFAIL(FAIL):
    """Fail because a result or an input did not pass a validation (retries apply)."""

    state_class = states.ValidationFailed


class TIMEOUT(FAIL):
    """Fail because the task ran past its timeout."""

    state_class = states.TimedOut


class RETRY(Signal):
    """Retry: at ``start_time`` if given, else after ``retry_delay`` (1 s without one),
    even when ``max_retries`` is spent; ``run_count`` (if given) replaces the attempts made."""

    state_class = states.Retrying

    def __init__(
        self,
        message: str | None = None,
        *args: Any,
        result: Any = _SELF,
        start_time: _dt.datetime | None = None,
        run_count: int | None = None,
        **state_fields: Any,
    ) -> None:
        if start_time is not None:
            state_fields["start_time"] = start_time
        if run_count is not None:
            state_fields["run_count"] = run_count
        super().__init__(message, *args, result=result, **state_fields)

    @property
    def start_time(self) -> _dt.datetime | None:
        """The start time given (UTC), or None: the task's ``retry_delay`` decides."""
        return self.state.start_time if "start_time" in self._fields else None

    @property
    def run_count(self) -> int | None:
        """The run count given, or None: the attempts made so far count."""
        count = self._fields.get("run_count")
        return int(count) if count is not None else None


class SKIP(Signal):
    """Skip the task; downstream tasks skip too unless ``skip_on_upstream_skip=False``."""

    state_class = states.Skipped


class PAUSE(Signal):
    """Pause the task until someone resumes it, or until ``start_time`` if given."""

    state_class = states.Paused

    def __init__(
        self,
        message: str | None = None,
        *args: Any,
        result: Any = _SELF,
        start_time: _dt.datetime | None = None,
        **state_fields: Any,
    ) -> None:
        if start_time is not None:
            state_fields["start_time"] = start_time
        super().__init__(message, *args, result=result, **state_fields)


class LOOP(Signal):
    """End this iteration of the task and run it again: the next iteration sees ``result``
    as ``context.task_loop_result`` and its number as ``context.task_loop_count``."""

    state_class = states.Looped

    def _state_result(self, given: Any) -> Any:
        return None if given is _SELF else given  # the next iteration's input: None, not this


class ENDRUN(Signal):
    """End the run in exactly ``state``: no retries, nothing else decided."""

    def __init__(self, state: states.State | None = None) -> None:
        state = state if state is not None else states.Failed("ENDRUN raised without a state.")
        Exception.__init__(self, state.message)
        self.message = state.message
        self.result = None
        self._given, self._fields = _SELF, {}
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        return (ENDRUN, (self.state,))


#: the state each signal requests; a test checks every Signal subclass is listed
SIGNAL_STATES: dict[type[Signal], type[states.State]] = {
    SUCCESS: states.Success,
    FAIL: states.Failed,
    TRIGGERFAIL: states.TriggerFailed,
    VALIDATIONFAIL: states.ValidationFailed,
    TIMEOUT: states.TimedOut,
    RETRY: states.Retrying,
    SKIP: states.Skipped,
    PAUSE: states.Paused,
    LOOP: states.Looped,
    ENDRUN: states.State,
}
#: each state class's signal, for ``signal_from_state``
_STATE_SIGNALS: dict[type[states.State], type[Signal]] = {
    state: signal for signal, state in SIGNAL_STATES.items() if signal is not ENDRUN
}


def state_for_signal(signal: Signal) -> states.State:
    """The state a raised signal asks for: its ``.state``."""
    return signal.state


def signal_from_state(state: states.State | type[states.State]) -> type[Signal]:
    """The signal class that stands for ``state`` (a state or a state class): that of the
    nearest state class with one (``Completed`` -> ``SUCCESS``).

    Raises:
        ValueError: no signal stands for it (``Pending``, ``Running``, ...).
    """
    cls = state if isinstance(state, type) else type(state)
    for klass in cls.__mro__:
        if klass in _STATE_SIGNALS:
            return _STATE_SIGNALS[klass]
    raise ValueError(
        f"No signal stands for a {cls.__name__} state; the signals' states are "
        f"{', '.join(sorted(c.__name__ for c in _STATE_SIGNALS))}."
    )
