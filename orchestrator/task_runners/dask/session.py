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

from orchestrator.task_runners.dask import remote_results
from orchestrator.task_runners.dask.batching import DurationEstimates
from orchestrator.task_runners.dask.cluster_watch import ClusterWatch
from orchestrator.task_runners.dask.forged_events import ForgedEvents
from orchestrator.task_runners.dask.forwarded_logs import emit_log
from orchestrator.task_runners.dask.handles import (
    RUNNING,
    DaskHandle,
    DaskResult,
    Submitted,
)
from orchestrator.task_runners.listeners import Listeners
from taskrun.dask import entry as dask_entry
from taskrun.dask import record_states
from taskrun.dask import records as summary
from taskrun.dask.records import FinalRecord, ForwardedLog, RetryingRecord, RunningRecord
from taskrun.dask.sealing import MalformedEventError, UnsignedEventError, new_channel, open_sealed
from taskrun.states import Retrying, State
from taskrun.wire import ResultShape

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
        #: the topic and this session's secret: workers seal their events with it (the
        #: task calls carry it), and events not sealed with it are dropped
        self.channel = new_channel(topic)
        self.forged = ForgedEvents(topic, getattr(client, "loop", None))
        #: a user holds the runner open around its runs: results that stayed on workers
        #: stay there while their states are reachable (``DaskResult`` holds the future)
        self.keep_results = False
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
        #: one thread at a time turns a final summary into its state
        self._state_lock = threading.Lock()
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
                for source in submitted.sources:
                    if isinstance(source, Submitted) and not source.handles:
                        source.consumers += 1  # a slice it reads
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
        """Apply the records of one worker event (a Dask event: ``(time, message)``), if
        this session's workers sealed it; anything else is dropped (``forged_events``)."""
        message = event[1] if isinstance(event, (tuple, list)) and len(event) == 2 else event
        try:
            worker, raws = open_sealed(message, self.channel.secret)
        except UnsignedEventError:
            self.forged.dropped()
            return
        except MalformedEventError as err:
            logger.error("Dropped an event of this run's workers on %s: %s", self.topic, err)
            return
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
        position = record.position or 0
        if submitted is None or not 0 <= position < len(submitted.handles):
            return
        handle = submitted.handles[position]
        if handle.is_final:
            return
        if isinstance(record, FinalRecord):
            # kept as the plain tuple it came as: atomic items only, so the GC soon stops
            # tracking it (it would track a named tuple for as long as the handle keeps it)
            handle.record = raw if type(raw) is tuple else tuple(raw)
            finals.append(handle)
            submitted.worker = worker
            submitted.result_bytes += record.nbytes
            if record.length is not None:
                submitted.mappable = True
            if record.result_blob == summary.ON_WORKER:
                submitted.keeps_result = True
                if self.keep_results:  # held for the state's DaskResult, even once released
                    handle.kept = submitted.future
            submitted.unfinished -= 1
            if submitted.unfinished <= 0:
                self._finished(submitted)
            task_id = (
                submitted.task_id if submitted.task_ids is None else (submitted.task_ids[position])
            )
            if task_id is not None:
                self.estimates.add(task_id, record.elapsed)
        elif isinstance(record, RunningRecord):
            handle.live = RUNNING
            submitted.running_on = worker
        else:
            handle.live = Retrying(record.message, run_count=record.run_count)
            submitted.running_on = None  # waiting (seceded) for its next attempt

    def _finished(self, submitted: Submitted) -> None:
        """Every summary of ``submitted`` arrived (under the condition): it leaves the
        registry. A result that came back whole with its state and cannot be mapped over
        drops its Dask future at once (Dask tasks already submitted with it as input keep it
        as long as they need it). A sequence keeps it until the runner is told nothing
        downstream needs it (``release``; flow runs release every handle when they end):
        mapped children are cut from it where it lives, so this process never unpickles a
        result to slice it. A result that stayed on a worker is also held by the states'
        ``DaskResult`` while the runner is held open: the worker keeps it for as long as
        someone keeps the state."""
        for source in submitted.sources:
            if isinstance(source, Submitted) and not source.handles:  # a slice it read
                source.consumers -= 1
                if source.consumers <= 0 and self.by_key.get(source.key) is source:
                    del self.by_key[source.key]  # its readers are done: Dask may forget it
                    source.future = None
        submitted.finished()
        # a group's members are read by position from its value until released
        if not submitted.keeps_result and not submitted.mappable and submitted.task_ids is None:
            submitted.future = None
        if self.by_key.get(submitted.key) is submitted:
            del self.by_key[submitted.key]
        self._late.pop(submitted.key, None)

    # ---- states ----------------------------------------------------------------------------------
    def state_of(self, handle: DaskHandle) -> State:
        """The final state of a handle whose final record arrived (built once; nothing in
        it unpickled: see ``record_states.state_from_record``). Threads may ask at once (the flow
        run, its watcher, a future's reader): one builds it, the others get that one."""
        if handle.state is None:
            with self._state_lock:
                if handle.state is None:
                    record = handle.final_record()
                    assert record is not None, f"{handle.name} has no final summary yet"

                    def remote(record: FinalRecord) -> DaskResult:
                        return remote_results.placeholder(self, handle, record)

                    handle.state = record_states.state_from_record(record, remote, handle.name)
                    handle.record = handle.kept = None
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
            return record_states.shape_from_record(record)
        return remote_results.shape_of_state(self, handle, self.state_of(handle), flattened)

    def fetch_result(self, deferred: DaskResult) -> Any:
        """A result kept on a worker, still pickled (``remote_results.fetch_result``)."""
        return remote_results.fetch_result(self, deferred)

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
                if submitted.handles and submitted.unfinished <= 0:
                    # finished, then its result was lost and computing it again failed:
                    # its task runs are over; downstream ones take their states instead
                    submitted.future = None
                return  # or settled by another thread
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
            self.channel,
            pure=False,
            key=f"summaries-{submitted.key}",
        )
        self.on_event((0, future.result()))

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
        self.forged.report()
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
