"""DaskSession: one connection of a ``DaskTaskRunner`` to a cluster, from start to shutdown.

It owns the Dask client, the events topic its workers report to, and the registry of
Dask tasks submitted (``Submitted``, by key). Workers' summaries arrive on the client's
event loop (``on_event``) and update the handles; everything else reads them:

    worker outbox --event--> on_event: handle.live = Running / handle.record = final
    wait(handle):  final record? -> state  | else sleep on the condition, and every
                   POLL_SECONDS look at the Dask future: erred? -> settle the failure
    get_state:     final state, else the live state (never blocks)

Failures Dask reports instead of a summary are settled once, under a lock: a Dask task
that erred because an upstream Dask task erred is resubmitted with that upstream's final
state; a batch whose workers died is split into single task runs (so only the culprit
fails); anything else becomes a ``Failed`` state (``dask_faults``). A finished Dask task
whose summary never came is asked for it again.

Threading: ``on_event`` runs on the client's event loop; the rest in callers' threads.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from orchestrator.task_runners.dask.batching import DurationEstimates
from orchestrator.task_runners.dask.handles import (
    DaskHandle,
    DaskResult,
    ResultNotAvailableError,
    Submitted,
)
from orchestrator.task_runners.listeners import Listeners
from taskrun.dask import entry as dask_entry
from taskrun.dask import records as summary
from taskrun.dask.outbox import unpack
from taskrun.states import Retrying, State
from taskrun.wire import ResultShape, shape_of

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: how often a waiting caller looks at the Dask future for failures
POLL_SECONDS = 0.1
#: how long a finished Dask task's summary may be late before it is asked for again
SUMMARY_GRACE_SECONDS = 5.0
#: Dask future statuses that end a Dask task ("lost" does not: Dask computes a lost
#: result again while a client holds its future)
_FAILED_STATUSES = ("error", "cancelled")


class DaskSession:
    """The client, topic and submitted Dask tasks of one runner session."""

    def __init__(
        self, client: Any, topic: str, estimates: DurationEstimates, cluster: Any = None
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.topic = topic
        self.estimates = estimates
        self.closed = False
        #: the dashboard link, once asked for ("" when the cluster has none)
        self.dashboard: str | None = None
        self.by_key: dict[str, Submitted] = {}
        self.cond = threading.Condition()
        self._settle_lock = threading.RLock()
        self._late: dict[str, float] = {}
        #: told of each handle whose final state arrived or was settled (``watch``)
        self.listeners = Listeners()

    # ---- registry -------------------------------------------------------------------------------
    def register(self, submitted: Submitted) -> None:
        with self.cond:
            submitted.unfinished = sum(1 for h in submitted.handles if not h.is_final)
            self.by_key[submitted.key] = submitted

    def unique_key(self, key: str) -> str:
        """``key``, or ``key-2``, ``key-3``... when this session already used it."""
        if key not in self.by_key:
            return key
        count = 2
        while f"{key}-{count}" in self.by_key:
            count += 1
        return f"{key}-{count}"

    # ---- summaries from workers (event-loop thread) ------------------------------------------
    def on_event(self, event: Any) -> None:
        message = event[1] if isinstance(event, (tuple, list)) else event
        if not isinstance(message, dict):
            return
        records = unpack(message["packed"]) if "packed" in message else message.get("records", ())
        worker = message.get("worker")
        logs = []
        finals: list[DaskHandle] = []
        with self.cond:
            for record in records:
                if record[0] == "l":
                    logs.append(record)
                else:
                    self._apply(record, worker, finals)
            self.cond.notify_all()
        if self.listeners:
            for handle in finals:
                self.listeners.tell(handle)
        for record in logs:
            emit_log(record, worker)

    def _apply(self, record: list[Any], worker: str | None, finals: list[DaskHandle]) -> None:
        submitted = self.by_key.get(record[1])
        if submitted is None or not submitted.handles:
            return
        position = record[2]
        handle = submitted.handles[position or 0]
        if handle.is_final:
            return
        kind = record[0]
        if kind == summary.FINAL:
            handle.record = tuple(record)  # atomic items only: the GC soon stops tracking it
            finals.append(handle)
            submitted.worker = worker
            submitted.unfinished -= 1
            if submitted.unfinished <= 0:
                submitted.finished()
            if submitted.task_id is not None:
                self.estimates.add(submitted.task_id, record[14])
        elif kind == summary.RUNNING:
            from orchestrator.task_runners.dask.handles import RUNNING

            handle.live = RUNNING
        elif kind == summary.RETRYING:
            handle.live = Retrying(record[3], run_count=record[5])

    # ---- states ----------------------------------------------------------------------------------
    def state_of(self, handle: DaskHandle) -> State:
        """The final state of a handle whose final record arrived (built once)."""
        if handle.state is None:
            record = handle.record
            assert record is not None
            submitted = handle.submitted
            handle.state = summary.state_from_record(
                record,
                lambda r: DaskResult(
                    self.fetch_result,
                    submitted,
                    handle.position,  # type: ignore[arg-type]
                    handle.name,
                    r[11],
                    r[15],
                    r[9],
                    r[10],
                ),
            )
            handle.record = None
        return handle.state

    def get_state(self, handle: DaskHandle) -> State:
        if handle.is_final:
            return self.state_of(handle)
        self._check_future(handle, finished_grace=False)
        return self.state_of(handle) if handle.is_final else handle.live

    def wait(self, handle: DaskHandle, timeout: float | None = None) -> State | None:
        if handle.is_final:
            return self.state_of(handle)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.cond:
                if not handle.is_final:
                    pause = (
                        POLL_SECONDS
                        if deadline is None
                        else min(POLL_SECONDS, deadline - time.monotonic())
                    )
                    if pause > 0:
                        self.cond.wait(pause)
            if handle.is_final:
                return self.state_of(handle)
            self._check_future(handle, finished_grace=True)
            if handle.is_final:
                return self.state_of(handle)
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def shape(self, handle: DaskHandle, flattened: bool = False) -> ResultShape:
        """Mapping metadata from the summary; a flattened shape of a result kept on a worker
        is measured where it lives."""
        self.wait(handle)
        record = handle.record
        if record is not None and not flattened:
            return summary.shape_from_record(record)
        state = self.state_of(handle)
        kept = state._result  # look without loading a deferred result
        if not state.is_successful() or not isinstance(kept, DaskResult):
            return shape_of(state, flattened)
        if not flattened:
            return ResultShape(True, kept.length, kept.problem)
        return self._remote_shape(handle, True)

    def _remote_shape(self, handle: DaskHandle, flattened: bool) -> ResultShape:
        submitted = handle.submitted
        assert submitted is not None
        assert submitted.future is not None
        future = self.client.submit(
            dask_entry.flat_shape,
            submitted.future,
            handle.position,
            flattened,
            pure=False,
            key=f"measure-{submitted.key}",
        )
        shape: ResultShape = future.result()
        return shape

    def fetch_result(self, deferred: DaskResult) -> Any:
        """A result kept on a worker (``DaskResult.load``)."""
        if self.closed:
            raise ResultNotAvailableError(deferred.name, deferred.nbytes, "closed")
        future = deferred.submitted.future
        if future is None:
            raise ResultNotAvailableError(deferred.name, deferred.nbytes, "released")
        picked = self.client.submit(
            dask_entry.pick_result,
            future,
            deferred.position,
            pure=False,
            key=f"fetch-{deferred.submitted.key}-{deferred.position}",
        )
        return picked.result()

    # ---- failures --------------------------------------------------------------------------------
    def _check_future(self, handle: DaskHandle, finished_grace: bool) -> None:
        submitted = handle.submitted
        future = submitted.future if submitted is not None else None
        if submitted is None or future is None:
            return
        status = future.status
        if status in _FAILED_STATUSES:
            self.settle(submitted)
        elif status == "finished" and finished_grace:
            first = self._late.setdefault(submitted.key, time.monotonic())
            if time.monotonic() - first > SUMMARY_GRACE_SECONDS:
                self._recover_summaries(submitted)

    def settle(self, submitted: Submitted) -> None:
        """Turn an erred Dask task into states (or a resubmission). Idempotent."""
        from orchestrator.task_runners.dask import repair as dask_repair

        with self._settle_lock:
            if self.by_key.get(submitted.key) is not submitted:
                return  # settled by another thread
            future = submitted.future
            status = future.status if future is not None else "lost"
            if status not in _FAILED_STATUSES:
                return
            error = _exception_of(future) if status == "error" else None
            dask_repair.settle(self, submitted, status, error)

    def _recover_summaries(self, submitted: Submitted) -> None:
        positions = [h.position for h in submitted.handles]
        names = [h.name for h in submitted.handles]
        future = self.client.submit(
            dask_entry.summaries,
            submitted.future,
            submitted.key,
            positions,
            names,
            1 << 20,
            pure=False,
            key=f"summaries-{submitted.key}",
        )
        self.on_event((0, {"records": future.result(), "worker": submitted.worker}))

    # ---- lifetime --------------------------------------------------------------------------------
    def release(self, submitted: Submitted) -> None:
        """Drop the Dask future once its summaries are in: the cluster may then forget the
        value as soon as no Dask task needs it."""
        with self.cond:
            if submitted.unfinished <= 0:
                submitted.future = None
            else:
                submitted.release_when_final = True

    def close(self) -> None:
        with self.cond:
            self.closed = True
            for submitted in self.by_key.values():
                submitted.future = None
            self.by_key = {}
            self.cond.notify_all()


def _exception_of(future: Any) -> BaseException | None:
    try:
        return future.exception(timeout=5)  # type: ignore[no-any-return]
    except Exception as err:  # the client may fail to fetch it; report that
        return err


def emit_log(record: list[Any], worker: str | None) -> None:
    """Re-emit a log record forwarded from a worker through this process's logging."""
    _, name, levelno, message, created, task_run_name, exc_text, thread = record[:8]
    target = logging.getLogger(name)
    if not target.isEnabledFor(levelno):
        return
    entry = logging.makeLogRecord(
        {
            "name": name,
            "levelno": levelno,
            "levelname": logging.getLevelName(levelno),
            "msg": message,
            "args": None,
            "created": created,
            "msecs": (created % 1) * 1000,
            "exc_text": exc_text,
            "task_run_name": task_run_name,
            "threadName": thread,
            "worker": worker,
        }
    )
    target.handle(entry)
