"""FinalStateWatcher: sees each ``@flow`` task run's final state as the run finishes.

A future records its final state (and the flow run logs it) the first time anyone looks
at it once the run is over. While the flow body is busy, nobody may look, so this
watcher does, in a background thread:

    runner.watch(listener) works -> the runner queues each handle that became final;
                                    the thread records those, and looks at the rest
                                    itself every SWEEP_SECONDS (failures no one reports)
    runner cannot tell (None)    -> the thread looks at every unfinished run every
                                    POLL_SECONDS

A runner that tells costs nothing per pending run: polling 10,000 Dask futures back to
back took the GIL from the in-process scheduler and doubled a fanout's time.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from orchestrator.runs.futures import Future, is_final
from orchestrator.task_runners.base import AnyTaskRunner

logger = logging.getLogger("orchestrator.flow_runs")

#: how often the watcher looks at unfinished runs itself when the runner tells it of
#: finished ones (to catch failures no one reports), and when the runner cannot tell
SWEEP_SECONDS = 1.0
POLL_SECONDS = 0.05


class FinalStateWatcher:
    """Records the final states of one flow run's futures as their runs finish.

    Args:
        runner: the flow run's (started) task runner.
        run_name: the flow run's name, for the thread's name and debug logs.
    """

    def __init__(self, runner: AnyTaskRunner, run_name: str) -> None:
        self._runner = runner
        self._run_name = run_name
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        #: handles the runner said are final; None wakes the thread to stop
        self._finals: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: unfinished runs by handle (the runner tells), or in submission order (polled)
        self._pending: dict[Any, Future[Any]] = {}
        self._polled: list[Future[Any]] = []
        self._unwatch: Callable[[], None] | None = None

    def start(self) -> None:
        """Ask the runner to tell of finished runs (call once the runner has started)."""
        self._unwatch = self._runner.watch(self._finals.put)

    def track(self, future: Future[Any]) -> None:
        """Watch a newly submitted future until its run is over."""
        if self._unwatch is None:  # polled: only what is unfinished now
            if not is_final(future.get_state()):
                with self._lock:
                    self._polled.append(future)
                self._ensure_thread()
            return
        with self._lock:  # before the check below: a run ending in between is still seen
            self._pending[future.handle] = future
        if is_final(future.get_state()):
            with self._lock:
                self._pending.pop(future.handle, None)
        else:
            self._ensure_thread()

    def stop(self) -> None:
        """Stop watching; call before the runner shuts down (the thread must not ask a
        closed runner). Idempotent."""
        self._stopped.set()
        self._finals.put(None)
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            unwatch()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._pending.clear()
            self._polled.clear()

    # ---- the thread -------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopped.is_set():
                return
            self._thread = threading.Thread(
                target=self._watch, daemon=True, name=f"orchestrator-watch-{self._run_name}"
            )
        self._thread.start()

    def _watch(self) -> None:
        every = SWEEP_SECONDS if self._unwatch is not None else POLL_SECONDS
        try:
            while not self._stopped.is_set():
                try:
                    handle = self._finals.get(timeout=every)
                except queue.Empty:
                    self._sweep()
                    continue
                if handle is not None:
                    self._seen(handle)
        except Exception:  # boundary: the run's end still waits for (and logs) every run
            logger.debug("Flow run %r: final-state watcher stopped", self._run_name, exc_info=True)

    def _seen(self, handle: Any) -> None:
        with self._lock:
            future = self._pending.pop(handle, None)
        if future is not None:  # None: another flow run's, or recorded at submission
            future.wait()  # final already: records (and so logs) it once

    def _sweep(self) -> None:
        """Look at every unfinished run (settling failures the backend did not report)."""
        with self._lock:
            if self._unwatch is not None:
                unfinished = list(self._pending.values())
            else:
                self._polled = [f for f in self._polled if f.final_state is None]
                unfinished = list(self._polled)
        for future in unfinished:
            if self._stopped.is_set():
                return
            if is_final(future.get_state()) and self._unwatch is not None:
                with self._lock:
                    self._pending.pop(future.handle, None)
