"""RunRecorder: writes one flow run to the journal, in batches, from a writer thread.

The orchestrator process already learns each task run's final state (a runner tells
its listeners, see ``BaseTaskRunner.watch``); the recorder is handed those as they come
(``add``: an append, nothing else, so a runner's event loop never waits for SQLite) and
its thread writes what piled up every ``FLUSH_SECONDS`` in one transaction:

    add(handle) ... add(handle)  -> queue
    thread, every FLUSH_SECONDS  -> resolve each handle to a TaskRunRecord -> one batch
    thread, every POLL_SECONDS   -> journal.is_cancel_requested(id)? -> on_cancel()
    finish(state)                -> last batch, then the flow run's final state

A handle the resolver does not know yet (its run finished before its submission was
noted) waits for the next batch. A journal that fails is reported once (a warning
naming the file and the fix) and the run goes on without it: a journal never costs a
run.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.journal.errors import JournalError
from orchestrator.journal.interface import Journal
from orchestrator.journal.records import TaskRunRecord, state_record
from taskrun.states import Running, State

logger = logging.getLogger("orchestrator.journal")

#: how often the writer thread writes what piled up, and asks about cancel requests
FLUSH_SECONDS = 0.5
POLL_SECONDS = 1.0

#: turns a handle into its task run's record; None while it is not known yet
Resolver = Callable[[Any], TaskRunRecord | None]


class JournalWarning(UserWarning):
    """The run journal could not be written; the run went on without it."""


class RunRecorder:
    """Writes one flow run's states to ``journal``.

    Args:
        resolve: turns an added handle into its record (see ``Resolver``).
        on_cancel: called once, from the writer thread, when someone asked the journal
            to cancel this run (``orchestrator cancel``).
    """

    def __init__(
        self,
        journal: Journal,
        flow_run_id: str,
        resolve: Resolver,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        self.journal = journal
        self.flow_run_id = flow_run_id
        self._resolve = resolve
        self._on_cancel = on_cancel
        #: handles whose runs became final, not written yet (appended from any thread)
        self._added: collections.deque[Any] = collections.deque()
        self._unknown: list[Any] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False
        self._written = 0

    @property
    def written(self) -> int:
        """Task-run records written so far."""
        return self._written

    def begin(
        self,
        flow_name: str,
        run_name: str,
        parameters: Mapping[str, Any],
        source: str | None = None,
    ) -> bool:
        """Record the flow run as Running and start the writer thread; False (after a
        warning) if the journal cannot be written."""
        state = state_record(Running(f"Flow run {run_name!r} is running."))
        start = self.journal.start_flow_run
        if not self._attempt(
            start, self.flow_run_id, flow_name, run_name, parameters, state, source
        ):
            return False
        self._thread = threading.Thread(
            target=self._write_loop, daemon=True, name=f"orchestrator-journal-{run_name}"
        )
        self._thread.start()
        return True

    def add(self, handle: Any) -> None:
        """A task run became final (any thread; returns at once). ``handle`` is the
        runner's handle, or a ``TaskRunRecord`` already made."""
        self._added.append(handle)

    def flush(self) -> None:
        """Write every added handle the resolver knows, in one transaction (writer thread,
        or the caller once the thread stopped)."""
        handles, self._unknown = self._unknown, []
        added = self._added
        while added:
            handles.append(added.popleft())
        records = []
        for handle in handles:
            record = handle if isinstance(handle, TaskRunRecord) else self._resolve(handle)
            if record is None:
                self._unknown.append(handle)
            else:
                records.append(record)
        if records and self._attempt(self.journal.record_task_runs, self.flow_run_id, records):
            self._written += len(records)

    def finish(self, state: State) -> None:
        """Write what is left, then the flow run's final state; stops the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
        self._attempt(self.journal.finish_flow_run, self.flow_run_id, state_record(state))

    # ---- the writer thread ----------------------------------------------------------------------
    def _write_loop(self) -> None:
        next_poll = time.monotonic() + POLL_SECONDS
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()
            if self._on_cancel is not None and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_SECONDS
                if self._attempt(self.journal.is_cancel_requested, self.flow_run_id) is True:
                    on_cancel, self._on_cancel = self._on_cancel, None
                    on_cancel()

    def _attempt(self, write: Callable[..., Any], *args: Any) -> Any:
        """``write(*args)``; on a journal failure, warn once and return False."""
        if self._failed:
            return False
        try:
            result = write(*args)
        except JournalError as err:
            self._failed = True
            warn_once(err)
            return False
        return True if result is None else result


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def warn_once(error: JournalError) -> None:
    """Warn (once per journal file and kind of problem, per process) that runs go on
    without the journal."""
    key = (error.path, type(error).__name__)
    with _warned_lock:
        if key in _warned:
            logger.debug("Run journal still unusable: %s", error)
            return
        _warned.add(key)
    message = f"{error} This flow run goes on without the journal."
    logger.warning("%s", message)
    warnings.warn(message, JournalWarning, stacklevel=3)
