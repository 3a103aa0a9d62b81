"""ControlledRunner: the task runner as one flow run drives it, journalled and cancellable.

Flow runners (the DAG ``FlowRunner`` and ``@flow`` runs) wrap their task runner in one of these
for the length of a run. It passes every call through and adds two things:

- **the journal**: each submitted run's name is noted with its handle; the inner runner's
  listeners (``BaseTaskRunner.watch``) hand final handles to a ``RunRecorder`` that writes them
  in batches; ``shutdown`` records what is left while the inner runner can still say,
  ``finish`` the flow run's state. ``journal=False`` (or ``ORCHESTRATOR_JOURNAL=off``) skips
  all of it; a journal that cannot be opened is warned about once and skipped.
- **cancel**: ``cancel_flow_run()`` (``FlowRun.cancel``, Ctrl-C, or a cancel request in the
  journal, polled once a second) stops submitting (later runs get a ``Cancelled`` state at
  once), asks the inner runner to cancel what has not finished (Dask futures are cancelled on
  the scheduler), and answers ``Cancelled`` for every unfinished run, so the flow run ends
  without waiting for them. ``cancel_run(handle)`` does it for one run (``Future.cancel``).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from orchestrator.journal.errors import JournalError
from orchestrator.journal.interface import Journal
from orchestrator.journal.recorder import RunRecorder, warn_once
from orchestrator.journal.records import StateRecord, TaskRunRecord, state_record
from orchestrator.journal.settings import current_source, is_journal_wanted
from orchestrator.task_runners.base import (
    AnyTaskRunner,
    BaseTaskRunner,
    ChildCalls,
    FinalListener,
)
from taskrun.results.stored import result_location
from taskrun.states import Cancelled, Failed, State
from taskrun.wire import ResultShape, TaskRunCall, shape_of

logger = logging.getLogger("orchestrator.journal")

#: how long one wait on the inner runner lasts before looking for a cancel again
WAIT_STEP = 0.25

#: ``journal=`` of a flow run: on/off/follow the environment, or a journal to write
JournalOption = bool | None | Journal
_Note = tuple[str, str, int | None]  # a submitted run's task name, run name, map index


class ControlledRunner(BaseTaskRunner[Any]):
    """``inner`` for one flow run (see the module docstring); build with ``controlled``."""

    keeps_locations: ClassVar[bool] = True  # a told run's result location is kept at once

    def __init__(
        self,
        inner: AnyTaskRunner,
        flow_run_id: str,
        flow_name: str,
        run_name: str,
        parameters: Mapping[str, Any],
        journal: JournalOption = None,
    ) -> None:
        self.inner, self.shares_local_storage = inner, inner.shares_local_storage
        self.flow_run_id, self.flow_name, self.run_name = flow_run_id, flow_name, run_name
        self.parameters = dict(parameters)
        self._journal_option = journal
        self._recorder: RunRecorder | None = None
        self._owned: Journal | None = None  # a journal opened here, closed at finish
        self._notes: dict[Any, _Note] = {}  # each submitted run not recorded yet
        self._cancelling = False  # set once, from any thread: a plain flag, read per call
        self._reason = ""
        self._task_message: str | None = None
        self._cancelled: dict[Any, State] = {}  # handle -> the Cancelled state it shows
        #: told runs' result locations: a run here may load a value (and lose them) first
        self._locations: dict[Any, str] = {}
        self._unwatch: Callable[[], None] | None = None
        self._finished = False

    @property
    def name(self) -> str:
        return self.inner.name

    def __getattr__(self, attribute: str) -> Any:
        """What the inner runner has besides the contract (``client``, ...)."""
        if attribute == "inner" or attribute.startswith("__"):  # not set yet (copies)
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    @property
    def journal(self) -> Journal | None:
        """The journal this run writes, None when it writes none."""
        return self._recorder.journal if self._recorder is not None else None

    # ---- lifetime -------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the journal record (a failing journal is skipped), then start the runner."""
        self._open_journal()
        try:
            self.inner.start()
        except BaseException as err:
            message = f"Task runner `{self.inner.name}` failed to start: {err!r}."
            self.finish(Failed(message, err), as_given=True)
            raise
        if self._recorder is not None:
            self._unwatch = self.inner.watch(self._told)

    def shutdown(self) -> None:
        """Record the runs the runner has not told of yet, then shut it down."""
        try:
            self._settle()
        finally:
            self.inner.shutdown()

    def __exit__(self, *exc: object) -> None:
        error = exc[1] if len(exc) > 1 else None
        if not isinstance(error, BaseException):
            self.shutdown()
            return
        # Ctrl-C, or a bug: nothing more runs, and the journal says how the run ended
        try:  # a failure here is logged: the runner still shuts down, the error stays
            self.cancel_flow_run(f"the flow run was interrupted ({error!r})")
        except Exception:
            logger.exception("Flow run %r: cancelling its task runs failed", self.run_name)
        try:
            self.shutdown()
        finally:
            ended: State
            if isinstance(error, Exception):
                ended = Failed(f"Flow run {self.run_name!r} failed: {error!r}.", error)
            else:
                ended = Cancelled(f"Flow run {self.run_name!r} was interrupted ({error!r}).")
            self.finish(ended, as_given=True)

    def finish(self, state: State, as_given: bool = False) -> State:
        """The flow run ended in ``state``: record it (the first call only) and return the
        state to report (``Cancelled`` for a run cancelled before it ended, unless ``as_given``)."""
        if self._cancelling and not state.is_cancelled() and not as_given:
            state = state.recast(Cancelled, message=f"Flow run was cancelled: {self._reason}.")
        if self._finished:
            return state
        self._finished = True
        self._settle()  # ended before shutdown (interrupted): its unfinished runs too
        if self._recorder is not None:
            self._recorder.finish(state)
        if self._owned is not None:
            self._owned.close()
        return state

    def _open_journal(self) -> None:
        option = self._journal_option
        if not isinstance(option, bool | None):
            journal: Journal = option
        elif not is_journal_wanted(option):
            return
        else:
            from orchestrator.journal.sqlite_journal import SQLiteJournal

            try:
                journal = self._owned = SQLiteJournal()
            except JournalError as err:
                warn_once(err)
                return
        recorder = RunRecorder(journal, self.flow_run_id, self._resolve, self._requested)
        if recorder.begin(self.flow_name, self.run_name, self.parameters, current_source()):
            self._recorder = recorder
            logger.debug("Flow run %s is recorded in %s", self.flow_run_id, journal.location)

    # ---- cancel ---------------------------------------------------------------------------------
    def cancel_flow_run(self, reason: str | None = None, task_message: str | None = None) -> bool:
        """Cancel the flow run's unfinished task runs (their ``Cancelled`` states say
        ``task_message``, default: why); False if it was cancelled already."""
        if self._cancelling:
            return False
        self._reason = reason or "cancel was requested"
        self._task_message = task_message
        self._cancelling = True
        logger.warning("Flow run %r: cancelling (%s)", self.run_name, self._reason)
        unfinished = [h for h in self._notes.copy() if not _is_final(self.inner.get_state(h))]
        self.inner.cancel(unfinished)
        return True

    def cancel(self, handles: Sequence[Any]) -> None:
        """Cancel these task runs (those not finished end ``Cancelled``)."""
        for handle in handles:
            self.cancel_run(handle)

    def cancel_run(self, handle: Any) -> bool:
        """Cancel one task run; False if it already finished."""
        if handle in self._cancelled or _is_final(self.inner.get_state(handle)):
            return False
        self._cancelled_state(handle, "its future was cancelled")
        self.inner.cancel([handle])
        return True

    def _requested(self) -> None:
        self.cancel_flow_run("orchestrator cancel was asked to cancel it")

    def _cancelled_state(self, handle: Any, reason: str | None = None) -> State:
        state = self._cancelled.get(handle)
        if state is None:
            note = self._notes.get(handle)
            name = note[1] if note is not None else getattr(handle, "name", "task run")
            why = reason or f"its flow run was cancelled: {self._reason}"
            message = self._task_message if reason is None else None
            state = self._cancelled.setdefault(
                handle, Cancelled(message or f"Task run {name!r} did not finish: {why}.")
            )
        return state

    # ---- submitting -----------------------------------------------------------------------------
    def submit(self, call: TaskRunCall) -> Any:
        if self._cancelling:
            return self._not_started(call)
        try:
            handle = self.inner.submit(call)
        except BaseException as err:  # Ctrl-C inside a run executing here (sequential)
            if not isinstance(err, Exception):
                self._not_started(call, f"it was interrupted ({err!r})")
            raise
        self._note(handle, call)
        return handle

    def submit_many(self, calls: Sequence[TaskRunCall]) -> list[Any]:
        if self._cancelling:
            return [self._not_started(call) for call in calls]
        if not isinstance(calls, ChildCalls):  # built already: note them from the list
            handles = self.inner.submit_many(calls)
            for handle, call in zip(handles, calls, strict=True):
                self._note(handle, call)
            return handles
        seen: list[_Note | None] = [None] * len(calls)

        def build(position: int) -> TaskRunCall:  # each call's names, noted as it is built
            call = calls[position]
            seen[position] = (call.task.name, call.name, call.map_index)
            return call

        handles = self.inner.submit_many(ChildCalls(calls.task, len(calls), build, calls.priority))
        tells = self._unwatch is not None or self._recorder is None
        for position, handle in enumerate(handles):
            note = seen[position]
            if note is None:  # a call the runner did not read (it failed first): read it now
                self._note(handle, calls[position])
                continue
            self._notes[handle] = note
            if not tells:
                self._told(handle)
        return handles

    def _note(self, handle: Any, call: TaskRunCall) -> None:
        self._notes[handle] = (call.task.name, call.name, call.map_index)
        if self._unwatch is None and self._recorder is not None:  # the runner tells nobody
            self._told(handle)

    def _not_started(self, call: TaskRunCall, why: str | None = None) -> Any:
        why = why or f"its flow run was cancelled ({self._reason})"
        state = Cancelled(f"Task run {call.name!r} did not finish: {why}.")
        return self.given_run(call.task.name, call.name, call.map_index, state)

    # ---- states ---------------------------------------------------------------------------------
    def given(self, state: State) -> Any:
        return self.inner.given(state)

    def given_run(self, task_name: str, run_name: str, map_index: int | None, state: State) -> Any:
        if self._recorder is not None:  # a run of this flow run, though never submitted
            self._recorder.add(TaskRunRecord(task_name, run_name, map_index, state_record(state)))
        return self.inner.given(state)

    def wait(self, handle: Any, timeout: float | None = None) -> State | None:
        if handle in self._cancelled:
            return self._cancelled[handle]
        if timeout is None and not self._cancelling:  # the common case: done at once
            if (state := self._inner_wait(handle, WAIT_STEP)) is not None:
                return state
        elif timeout is not None and timeout <= 0:
            return self._now(handle)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._cancelling:
            step = WAIT_STEP if deadline is None else min(WAIT_STEP, deadline - time.monotonic())
            state = self._inner_wait(handle, max(step, 0.0))
            if state is not None:
                return state
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return self._now(handle) or self._cancelled_state(handle)

    def get_state(self, handle: Any) -> State:
        if handle in self._cancelled:
            return self._cancelled[handle]
        state = self.inner.get_state(handle)
        if self._cancelling and not _is_final(state):
            return self._cancelled_state(handle)
        return state

    def shape(self, handle: Any, flattened: bool = False) -> ResultShape:
        if self._cancelling or handle in self._cancelled:
            return shape_of(self.wait(handle) or self._cancelled_state(handle), flattened)
        return self.inner.shape(handle, flattened)

    def release(self, handle: Any) -> None:
        self.inner.release(handle)

    def gathering(self) -> AbstractContextManager[None]:
        return self.inner.gathering()

    def describe(self, handle: Any) -> dict[str, Any]:
        return self.inner.describe(handle)

    def watch(self, listener: FinalListener[Any]) -> Callable[[], None] | None:
        return self.inner.watch(listener)

    def _now(self, handle: Any) -> State | None:
        """The final state if the run is over now, else None (never blocks)."""
        if not _is_final(self.inner.get_state(handle)):
            return None
        return self._inner_wait(handle, 0.0)

    def _inner_wait(self, handle: Any, timeout: float) -> State | None:
        try:
            return self.inner.wait(handle, timeout)
        except cf.CancelledError:  # a thread runner's queued run that was cancelled
            return self._cancelled_state(handle)

    # ---- the journal ----------------------------------------------------------------------------
    def _told(self, handle: Any) -> None:
        """A run became final (any thread): keep its result's location, queue it."""
        if self.keeps_locations:
            location = result_location(self.inner.get_state(handle))
            if location is not None:
                self._locations[handle] = location
        self._recorder.add(handle)  # type: ignore[union-attr]  # told only with a recorder

    def _record(self, note: _Note, handle: Any, record: StateRecord) -> TaskRunRecord:
        location = self._locations.pop(handle, None) if self._locations else None
        if location is not None and record.result_location is None:
            record = record._replace(result_location=location)
        return TaskRunRecord(note[0], note[1], note[2], record)

    def _resolve(self, handle: Any) -> TaskRunRecord | None:
        """The record of a run that became final (writer thread); None if not known yet."""
        note = self._notes.pop(handle, None)
        if note is None:
            return None
        cancelled = self._cancelled
        state = cancelled.get(handle) if cancelled else None
        if state is not None:
            return self._record(note, handle, state_record(state))
        record = self.inner.final_record(handle)
        if record is None:
            self._notes[handle] = note  # told too early: looked at again next batch
            return None
        return self._record(note, handle, record)

    def _settle(self) -> None:
        """Record every noted run now, while the inner runner can still tell their states."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        recorder = self._recorder
        if recorder is None:
            return
        for handle in self._notes.copy():  # a copy in one step: the writer thread pops too
            note = self._notes.pop(handle, None)
            if note is not None:  # else the writer thread has it
                record = state_record(self.get_state(handle))
                recorder.add(self._record(note, handle, record))
        self._locations.clear()

    def __repr__(self) -> str:
        return repr(self.inner)


class _BulkControlledRunner(ControlledRunner):
    """Over a runner that submits children together (Dask): it tells on its event loop, where
    a state may take long (10x slower maps); values are read on the workers, not here."""

    submits_in_bulk: ClassVar[bool] = True
    keeps_locations: ClassVar[bool] = False


def controlled(
    inner: AnyTaskRunner,
    flow_run_id: str,
    flow_name: str,
    run_name: str,
    parameters: Mapping[str, Any],
    journal: JournalOption = None,
) -> ControlledRunner:
    """``inner`` wrapped for one flow run (see ``ControlledRunner``)."""
    kind = _BulkControlledRunner if inner.submits_in_bulk else ControlledRunner
    return kind(inner, flow_run_id, flow_name, run_name, parameters, journal)


def _is_final(state: State) -> bool:
    return state.is_finished() or state.is_paused()
