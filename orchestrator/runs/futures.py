"""Future: what calling a task inside a running ``@flow`` returns.

A ``Future`` wraps one task run's *handle* on the flow run's task runner (sequential,
threads or Dask) and speaks only the ``BaseTaskRunner`` contract, so it works the same
on every backend:

    future = add(1, 2)          # submitted; returns at once
    future.get_state()          # Pending / Running / Completed(...) -- never blocks
    future.wait(timeout=5)      # the final state, or None if 5 seconds pass first
    future.result()             # the value (re-raises the task's exception)

States are shown the way the futures API names them (``present_state``): a plain
``Success`` becomes ``Completed(message=None, type=COMPLETED)`` and a run whose
upstream did not complete (``TriggerFailed``) becomes ``Pending`` named ``NotReady``.
The first final state seen is kept, so a future stays inspectable after its flow run
(and its task runner) ended. Thread-safe: the flow body, a watcher thread and a
notebook may all ask at once.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from taskrun.errors import TriggerFailedError
from taskrun.states import Completed, DeferredResult, Pending, State, Success, TriggerFailed

if TYPE_CHECKING:
    from orchestrator.task_runners.base import AnyTaskRunner

T = TypeVar("T")

#: guards the first final state of every future (held for an assignment only; one lock
#: instead of one per future keeps a 100,000-child map small)
_RECORD_LOCK = threading.Lock()

#: called once with the future and its final state (the flow run logs it)
FinalCallback = Callable[["Future[Any]", State], None]


def present_state(state: State) -> State:
    """``state`` as the futures API shows it (``Completed``, ``NotReady``); others unchanged.

    A result kept on a Dask worker stays there: the new state holds the same reference.
    """
    if type(state) is Success:  # the result is carried over unread, not loaded
        return state.recast(Completed, message=None, name=None)  # name: the class's
    if isinstance(state, TriggerFailed):
        error = state._result  # as stored: an error still pickled (on Dask) is not loaded
        if isinstance(error, DeferredResult):
            reason = getattr(error, "reason", None) or state.message
        else:
            reason = error.reason if isinstance(error, TriggerFailedError) else state.message
        return Pending(
            f"{reason} This task run did not run.", name="NotReady", timestamp=state.timestamp
        )
    return state


def result_type_name(state: State) -> str | None:
    """The type name of the state's result without loading a deferred one; None if no result."""
    raw = state._result  # the stored value as is: ``data`` would load it
    if raw is None:
        return None
    return raw.type_name if isinstance(raw, DeferredResult) else type(raw).__name__


def is_final(state: State) -> bool:
    """Whether a task run in ``state`` will not change any more (NotReady and Paused included)."""
    return state.is_finished() or state.is_paused() or state.name == "NotReady"


class Future(Generic[T]):
    """A submitted task run of a ``@flow``; ask it for its state or wait for its result.

    Args:
        name: the task-run name, e.g. ``add_project-80de7cb5-1``.
        task: the task that runs.
        runner: the flow run's task runner that holds ``handle``.
        handle: the runner's own handle for the run.
        details: what ``runner.describe(handle)`` said (a Dask key and dashboard link);
            None to ask the runner when ``details`` is first read.
        on_final: called once, with the final state, by whichever caller sees it first.
    """

    __slots__ = ("_details", "_final", "_on_final", "handle", "name", "runner", "task")

    def __init__(
        self,
        name: str,
        task: Any,
        runner: AnyTaskRunner,
        handle: Any,
        details: Mapping[str, Any] | None = None,
        on_final: FinalCallback | None = None,
    ) -> None:
        self.name = name
        self.task = task
        self.runner = runner
        self.handle = handle
        self._details: dict[str, Any] | None = dict(details) if details is not None else None
        self._on_final = on_final
        self._final: State | None = None

    @property
    def details(self) -> dict[str, Any]:
        """Backend details for displays (a Dask key, the dashboard link), asked of the
        runner when first read."""
        if self._details is None:
            self._details = dict(self.runner.describe(self.handle))
        return self._details

    @property
    def task_run_name(self) -> str:
        return self.name

    # ---- state ----------------------------------------------------------------------------------
    @property
    def final_state(self) -> State | None:
        """The final state once seen and recorded, else None (never asks the runner)."""
        return self._final

    def get_state(self) -> State:
        """The current state, without blocking (``Running`` while it executes)."""
        if self._final is not None:
            return self._final
        current = self.runner.get_state(self.handle)
        if current.is_finished() or current.is_paused():
            # the final state may arrive without its result; wait() fetches the whole state
            return self.wait() or present_state(current)
        return present_state(current)

    def wait(self, timeout: float | None = None) -> State | None:
        """Block until the run is over and return its final state; None if ``timeout`` passes."""
        if self._final is not None:
            return self._final
        state = self.runner.wait(self.handle, timeout)
        if state is None:
            return None
        return self._record(present_state(state))

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> T:
        """Wait for the run and return its value; a failed run re-raises its exception.

        Raises:
            TimeoutError: the run did not finish within ``timeout`` seconds.
        """
        state = self.wait(timeout)
        if state is None:
            raise TimeoutError(
                f"Task run {self.name!r} did not finish within {timeout} seconds. "
                "Call result() again, or wait(timeout=None) to block until it does."
            )
        value: T = state.result(raise_on_failure=raise_on_failure)
        return value

    def done(self) -> bool:
        """Whether the run is over (finished, NotReady or paused)."""
        return is_final(self.get_state())

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception the run failed with, or None (waits like ``result``)."""
        state = self.wait(timeout)
        if state is None:
            raise TimeoutError(f"Task run {self.name!r} did not finish within {timeout} seconds.")
        if not state.is_failed():
            return None
        error = state.data
        return error if isinstance(error, BaseException) else None

    def cancel(self) -> bool:
        """Cancel the task run unless it is over: it ends ``Cancelled`` (on Dask, its task
        is cancelled on the scheduler unless it shares a batch with runs still wanted).
        Returns False if the run was over already (as ``concurrent.futures`` does)."""
        cancel_run = getattr(self.runner, "cancel_run", None)  # the flow run's runner
        if self._final is not None or cancel_run is None or not cancel_run(self.handle):
            return False
        self.wait()  # records (and logs) the Cancelled state
        return True

    def cancelled(self) -> bool:
        """Whether the run ended ``Cancelled``."""
        return self._final is not None and self._final.is_cancelled()

    def add_done_callback(self, callback: Callable[[Future[T]], Any]) -> None:
        """Call ``callback(future)`` once the run is over: now if it already is, else from a
        background thread that waits for it (so the caller never blocks)."""
        if self._final is not None:
            callback(self)
            return

        def wait_then_call() -> None:
            self.wait()
            callback(self)

        threading.Thread(
            target=wait_then_call, daemon=True, name=f"orchestrator-callback-{self.name}"
        ).start()

    def _record(self, state: State) -> State:
        """Keep the first final state and tell ``on_final`` about it, exactly once."""
        with _RECORD_LOCK:
            if self._final is not None:
                return self._final
            self._final = state
        if self._on_final is not None:
            self._on_final(self, state)
        return state

    # ---- display --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Future {self.name!r}: {self.get_state()!r}>"

    def _repr_html_(self) -> str:
        """Notebook display: task-run name, coloured state, result type, backend details."""
        state = self.get_state()
        rows = [("Task run", html.escape(self.name)), ("State", state._repr_html_())]
        shown_type = result_type_name(state) if is_final(state) else None
        if shown_type is not None:
            rows.append(("Result type", html.escape(shown_type)))
        rows.extend((_label(key), _cell(value)) for key, value in self.details.items())
        body = "".join(
            f'<tr><th style="text-align:left">{k}</th><td style="text-align:left">{v}</td></tr>'
            for k, v in rows
        )
        return f'<table class="orchestrator-future">{body}</table>'


def _label(key: str) -> str:
    known = {
        "key": "Dask key",
        "dask_key": "Dask key",
        "dashboard": "Dashboard",
        "dashboard_link": "Dashboard",
        "dashboard_url": "Dashboard",
    }
    return html.escape(known.get(key, key.replace("_", " ").capitalize()))


def _cell(value: Any) -> str:
    text = str(value)
    if text.startswith(("http://", "https://")):
        link = html.escape(text, quote=True)
        return f'<a href="{link}" target="_blank">{html.escape(text)}</a>'
    return html.escape(text)
