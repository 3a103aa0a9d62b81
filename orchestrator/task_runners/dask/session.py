"""DaskSession: one connection of a ``DaskTaskRunner`` to a cluster, from start to shutdown.

It owns the Dask client, the events topic its workers report to, and the registry of
Dask tasks submitted (``Submitted``, by key). Workers' summaries arrive on the client's
event loop (``on_event``) and update the handles; everything else reads them:

    worker outbox --event--> on_event: handle.live = Running / handle.record = final
    wait(handle):  final record? -> state  | else sleep on the condition, and every
                   POLL_SECONDS look at the Dask future: erred? -> settle the failure
    get_state:     final state, else the live state (never blocks)

Failures Dask reports instead of a summary are settled once, under a lock (``repair``):
a Dask task that erred because an upstream Dask task erred is resubmitted with that
upstream's final state; one whose workers died is blamed by the evidence of who ran
there (``deaths``): a bystander is resubmitted, a batch split, a culprit failed; anything
else becomes a ``Failed`` state (``faults``). A finished Dask task whose summary never
came is asked for it again. The cluster as a whole is watched through the scheduler's
events (``cluster_watch``): workers all gone for too long, or the scheduler lost, fail
every unfinished task run saying so, and refuse new ones.

Threading: ``on_event`` runs on the client's event loop; the rest in callers' threads.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from orchestrator.task_runners.dask.batching import DurationEstimates
from orchestrator.task_runners.dask.cluster_watch import ClusterWatch
from orchestrator.task_runners.dask.handles import (
    RUNNING,
    DaskHandle,
    DaskResult,
    ResultNotAvailableError,
    Submitted,
)
from orchestrator.task_runners.listeners import Listeners
from taskrun.dask import entry as dask_entry
from taskrun.dask import records as summary
from taskrun.dask.outbox import unpack
from taskrun.dask.records import FinalRecord, ForwardedLog, RetryingRecord, RunningRecord
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
        self,
        client: Any,
        topic: str,
        estimates: DurationEstimates,
        cluster: Any = None,
        no_workers_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.topic = topic
        self.estimates = estimates
        self.closed = False
        self.scheduler_address: str = getattr(client.scheduler, "address", None) or "?"
        #: workers coming and going, their deaths, the wait when all are gone, and the
        #: scheduler's loss
        self.watch = ClusterWatch(self, no_workers_timeout)
        #: the dashboard link, once asked for ("" when the cluster has none)
        self.dashboard: str | None = None
        self.by_key: dict[str, Submitted] = {}
        self.cond = threading.Condition()
        self._settle_lock = threading.RLock()
        #: ``repair`` is settling the Dask tasks one set of worker deaths erred (under the
        #: settle lock)
        self.settling_together = False
        self._serials = itertools.count(1)
        self._late: dict[str, float] = {}
        #: told of each handle whose final state arrived or was settled (``watch``)
        self.listeners = Listeners()

    def subscribe(self) -> None:
        """Start hearing from workers (summaries) and the scheduler (workers' comings and
        goings)."""
        self.client.subscribe_topic(self.topic, self.on_event)
        self.watch.start()

    # ---- registry -------------------------------------------------------------------------------
    def register(self, submitted: Submitted) -> bool:
        """Add ``submitted`` before it goes to Dask; False when the cluster cannot run it
        (scheduler lost, or no workers for too long): its task runs failed instead."""
        with self.cond:
            refusal = self.watch.refusal()
            if refusal is None:
                submitted.unfinished = sum(1 for h in submitted.handles if not h.is_final)
                submitted.serial = next(self._serials)
                self.by_key[submitted.key] = submitted
        if refusal is not None:
            from orchestrator.task_runners.dask import repair as dask_repair

            dask_repair.refuse(self, submitted, refusal)
            return False
        if self.watch.lost_all:
            self.watch.submitted()
        return True

    def unfinished_count(self) -> int:
        """Task runs submitted here whose final state is not known yet."""
        with self.cond:
            return sum(s.unfinished for s in self.by_key.values())

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
        """Apply the records of one worker event (a Dask event: ``(time, message)``)."""
        message = event[1] if isinstance(event, (tuple, list)) else event
        if not isinstance(message, dict):
            return
        raws = unpack(message["packed"]) if "packed" in message else message.get("records", ())
        worker = message.get("worker")
        logs: list[ForwardedLog] = []
        finals: list[DaskHandle] = []
        with self.cond:
            for raw in raws:
                record = summary.named(raw)
                if isinstance(record, ForwardedLog):
                    logs.append(record)
                elif record is not None:
                    self._apply(record, raw, worker, finals)
            self.cond.notify_all()
        if self.listeners:
            for handle in finals:
                self.listeners.tell(handle)
        for log in logs:
            emit_log(log, worker)

    def _apply(
        self,
        record: RunningRecord | RetryingRecord | FinalRecord,
        raw: Sequence[Any],
        worker: str | None,
        finals: list[DaskHandle],
    ) -> None:
        submitted = self.by_key.get(record.key)
        if submitted is None or not submitted.handles:
            return
        handle = submitted.handles[record.position or 0]
        if handle.is_final:
            return
        if isinstance(record, FinalRecord):
            # kept as the plain tuple it came as: atomic items only, so the GC soon stops
            # tracking it (it would track a named tuple for as long as the handle keeps it)
            handle.record = raw if type(raw) is tuple else tuple(raw)
            finals.append(handle)
            submitted.worker = worker
            submitted.unfinished -= 1
            if submitted.unfinished <= 0:
                submitted.finished()
            if submitted.task_id is not None:
                self.estimates.add(submitted.task_id, record.elapsed)
        elif isinstance(record, RunningRecord):
            handle.live = RUNNING
            submitted.running_on = worker
        else:
            handle.live = Retrying(record.message, run_count=record.run_count)
            submitted.running_on = None  # waiting (seceded) for its next attempt

    # ---- states ----------------------------------------------------------------------------------
    def state_of(self, handle: DaskHandle) -> State:
        """The final state of a handle whose final record arrived (built once)."""
        if handle.state is None:
            record = handle.final_record()
            assert record is not None
            submitted = handle.submitted

            def remote(record: FinalRecord) -> DaskResult:
                assert submitted is not None, "only a submitted task run leaves its result"
                return DaskResult(
                    self.fetch_result,
                    submitted,
                    handle.position,
                    handle.name,
                    nbytes=record.nbytes,
                    type_name=record.result_type,
                    length=record.length,
                    problem=record.problem,
                )

            handle.state = summary.state_from_record(record, remote)
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
        record = handle.final_record()
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
            error = _exception_of(future) if status == "error" else _cancel_reason(future)
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
        self.watch.stop()
        with self.cond:
            self.closed = True
            for submitted in self.by_key.values():
                submitted.future = None
            self.by_key = {}
            self.cond.notify_all()


def _cancel_reason(future: Any) -> BaseException | None:
    """Why Dask cancelled ``future`` (a ``FutureCancelledError`` with its ``reason``).
    Dask keeps it only on the future's shared state: ``Future.result()`` would raise it,
    but needs the client's event loop, which may be busy reconnecting."""
    error = getattr(getattr(future, "_state", None), "exception", None)
    return error if isinstance(error, BaseException) else None


def _exception_of(future: Any) -> BaseException | None:
    try:
        return future.exception(timeout=5)  # type: ignore[no-any-return]
    except Exception as err:  # the client may fail to fetch it; report that
        return err


def emit_log(log: ForwardedLog, worker: str | None) -> None:
    """Re-emit a log record forwarded from a worker through this process's logging."""
    target = logging.getLogger(log.logger)
    if not target.isEnabledFor(log.levelno):
        return
    entry = logging.makeLogRecord(
        {
            "name": log.logger,
            "levelno": log.levelno,
            "levelname": logging.getLevelName(log.levelno),
            "msg": log.message,
            "args": None,
            "created": log.created,
            "msecs": (log.created % 1) * 1000,
            "exc_text": log.exc_text,
            "task_run_name": log.task_run_name,
            "threadName": log.thread,
            "worker": worker,
        }
    )
    target.handle(entry)
