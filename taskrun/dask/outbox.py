"""Outbox: a worker's buffer of summaries and log records, published as Dask events.

Task runs on a worker report their states (``taskrun.dask.records`` records) and the log
records they emit here. Reporting from a task thread is a list append; a few
milliseconds later the worker's event loop publishes everything buffered as one Dask
event per topic (``Worker.log_event``), which the scheduler forwards to the one
orchestrator client subscribed to that topic. So 100,000 task runs cost a few hundred
small messages, not 200,000, and no task run waits for the orchestrator.

    task thread:  outbox.put(topic, record)  --(first record schedules a flush)-->
    event loop:   flush() -> worker.log_event(topic, {"packed": pickle(records), ...})
                  -> scheduler -> orchestrator's subscribe_topic handler

Records travel pickled in one bytes object per event: Dask's comms and event log then
handle a single blob instead of walking thousands of small tuples. Each record goes as
the plain tuple of its fields (pickle calls no Python code for those, and the receiver
needs no record class to read them: ``records.named`` names the fields again). One
outbox per ``Worker`` object (an in-process cluster has several in one process).
Imports Dask: only runs inside a worker.
"""

from __future__ import annotations

import contextvars
import pickle
import threading
import weakref
from collections.abc import Sequence
from typing import Any

#: how long a record may wait for company before the outbox publishes it
FLUSH_SECONDS = 0.005
#: records per published event (keeps each message, and the scheduler's event log, small)
MAX_RECORDS_PER_EVENT = 2000

#: (outbox, topic) of the task run executing in this thread, for log forwarding
active_run: contextvars.ContextVar[tuple[Outbox, str] | None] = contextvars.ContextVar(
    "orchestrator_active_run", default=None
)

_outboxes: weakref.WeakKeyDictionary[Any, Outbox] = weakref.WeakKeyDictionary()
_outboxes_lock = threading.Lock()


class Outbox:
    """Buffered records of one worker, per topic. Thread-safe; ``flush`` runs on the event loop."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self._records: dict[str, list[tuple[Any, ...]]] = {}
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, topic: str, record: tuple[Any, ...]) -> None:
        """Buffer ``record`` for ``topic``; the worker's event loop publishes it shortly."""
        with self._lock:
            self._records.setdefault(topic, []).append(record)
            if self._scheduled:
                return
            self._scheduled = True
        self.worker.loop.add_callback(self._flush_later)

    def _flush_later(self) -> None:
        self.worker.loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Publish what is buffered (event-loop thread only)."""
        with self._lock:
            records, self._records = self._records, {}
            self._scheduled = False
        address = self.worker.address
        for topic, items in records.items():
            for start in range(0, len(items), MAX_RECORDS_PER_EVENT):
                packed = pack(items[start : start + MAX_RECORDS_PER_EVENT])
                self.worker.log_event(topic, {"packed": packed, "worker": address})


def pack(records: Sequence[tuple[Any, ...]]) -> bytes:
    """One event's records (``taskrun.dask.records`` named tuples), as plain tuples pickled."""
    return pickle.dumps([tuple(record) for record in records], protocol=5)


def unpack(packed: bytes) -> list[tuple[Any, ...]]:
    """The records of a published event, as plain tuples (the orchestrator trusts its
    cluster, as Dask does)."""
    return pickle.loads(packed)  # type: ignore[no-any-return]


def outbox_for(worker: Any) -> Outbox:
    """The outbox of ``worker``, created on first use."""
    box = _outboxes.get(worker)
    if box is not None:
        return box
    with _outboxes_lock:
        box = _outboxes.get(worker)
        if box is None:
            box = _outboxes[worker] = Outbox(worker)
        return box
