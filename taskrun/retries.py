"""Retries: whether a task run tries again, after how long, and who waits the delay.

``retry_delay`` is the policy the executor (``taskrun.execute``) applies after every
attempt:

    attempt ended          next attempt                            after
    RETRY signal           always (even past ``max_retries``)      retry_delay, else 1 s
    Failed / TimedOut      while attempts <= max_retries and the   retry_delay (0 if none)
                           error is one of ``retry_on`` (if set)
    anything else          never (TriggerFailed, ENDRUN, success)  -

A ``RETRY`` signal on a task without a ``retry_delay`` waits ``RETRY_SIGNAL_DELAY``: it
retries even past ``max_retries``, so without a pause a body that keeps raising it would
spin through attempts (and log lines) as fast as it can.

Who waits: an in-process runner passes ``time.sleep`` as the executor's ``sleep`` and
waits in its own thread; a caller with an event loop (the Dask worker) passes a
``RetryLater``, gets the ``Retrying`` state back, waits without holding a thread, and
resumes the run.
"""

from __future__ import annotations

from typing import Protocol

from taskrun.states import State
from taskrun.task_protocol import TaskLike

#: seconds a ``RETRY`` signal waits when its task has no ``retry_delay`` (see above)
RETRY_SIGNAL_DELAY = 1.0


class SinglePass:
    """The executor's ``sleep`` for a single pass (Prefect 1's ``TaskRunner.run``): an
    attempt that will be retried ends the run in its ``Retrying`` state (``start_time``: when
    the next attempt is due), for the caller to run again once it is due."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SINGLE_PASS"


#: the one ``SinglePass``
SINGLE_PASS = SinglePass()


def retry_delay(task: TaskLike, state: State, run_count: int) -> float | None:
    """Seconds to wait before the next attempt after ``run_count`` attempts ended in
    ``state``, or None when the run is over (the table in the module docstring)."""
    if not state.is_retrying():
        if not state.is_failed() or state.is_trigger_failed():
            return None
        if run_count > (task.max_retries or 0):
            return None
        retry_on = task.retry_on
        error = state.data
        if retry_on and not (
            isinstance(error, BaseException) and isinstance(error, tuple(retry_on))
        ):
            return None
    configured = task.retry_delay
    if configured is not None:
        return configured.total_seconds()
    return RETRY_SIGNAL_DELAY if state.is_retrying() else 0.0


class ResumableRun(Protocol):
    """A task run held between attempts (the executor's own run object)."""

    def resume(self, retrying: State) -> State:
        """Run the attempts after ``retrying``; the next state (final, or Retrying)."""


class RetryLater:
    """A ``sleep`` for a caller that waits out retry delays itself (an event loop).

    Given as the executor's ``sleep``, it makes the executor return the ``Retrying``
    state instead of waiting (``start_time``: when the next attempt is due;
    ``run_count``: the attempts made; ``delay`` here: the seconds to wait). The run is
    kept here, and ``resume()``, called in any thread once the delay has passed, runs its
    next attempts in the same context (``task_run_id``, logger, ...) and returns the next
    state: a final one, or ``Retrying`` again, to wait and resume again. A delay of 0 is
    not handed back: the next attempt runs at once. One ``RetryLater`` serves one run.

    >>> import datetime
    >>> from taskrun.context import current
    >>> from taskrun.execute import run_task
    >>> class Twice:
    ...     name, slug, tags, max_retries, retry_on, timeout = "twice", None, None, 1, None, None
    ...     retry_delay = datetime.timedelta(seconds=5)
    ...     trigger, skip_on_upstream_skip = None, True
    ...     state_handlers, on_failure, log_stdout = None, None, False
    ...     def run(self):
    ...         if current()["task_run_count"] == 1:
    ...             raise ConnectionError("first attempt")
    ...         return "second attempt"
    >>> later = RetryLater()
    >>> state = run_task(Twice(), run_context={"executor_logs": False}, sleep=later)
    >>> state.name, state.run_count, later.delay, later.is_waiting
    ('Retrying', 1, 5.0, True)
    >>> later.resume().result()  # once the caller has waited 5 s, holding no thread
    'second attempt'
    """

    __slots__ = ("_run", "_state", "delay")

    def __init__(self) -> None:
        self._run: ResumableRun | None = None
        self._state: State | None = None
        #: seconds the waiting run asked to wait before its next attempt
        self.delay = 0.0

    @property
    def is_waiting(self) -> bool:
        """A run waits here for ``resume()``."""
        return self._run is not None

    def holds(self, run: ResumableRun) -> bool:
        return self._run is run

    def hold(self, run: ResumableRun, state: State, delay: float) -> None:
        """Keep ``run``, to retry from ``state`` after ``delay`` seconds (executor only)."""
        self._run, self._state, self.delay = run, state, delay

    def resume(self) -> State:
        """Run the waiting run's next attempts; returns its next state (see the class)."""
        run, state = self._run, self._state
        if run is None or state is None:
            raise RuntimeError(
                "RetryLater.resume(): no task run waits here. Resume only after the "
                "executor returned a Retrying state and is_waiting is True."
            )
        self._run = self._state = None
        return run.resume(state)
