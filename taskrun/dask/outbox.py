"""Outbox: a worker's buffer of summaries and log records, published as Dask events.

Task runs on a worker report their states (``taskrun.dask.records`` records) and the log
records they emit here. Reporting from a task thread is a list append; a few
milliseconds later the worker's event loop publishes everything buffered as one Dask
event per channel (``Worker.log_event``), which the scheduler forwards to the one
orchestrator client subscribed to that topic. So 100,000 task runs cost a few hundred
small messages, not 200,000, and no task run waits for the orchestrator.

    task thread:  outbox.put(channel, record)  --(first record schedules a flush)-->
    event loop:   flush() -> worker.log_event(topic, seal(secret, address, records))
                  (a running record whose final one is in the same flush is left out)
                  -> scheduler -> orchestrator's subscribe_topic handler

A channel is the run's topic and its secret (``taskrun.dask.sealing``): each event is
msgpack of plain tuples (strings, numbers, bytes), signed once for all its records, so
the orchestrator reads nothing another client of the scheduler could have sent, and
unpickles nothing to read it. One outbox per ``Worker`` object (an in-process cluster
has several in one process). Imports Dask: only runs inside a worker.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from typing import Any

from taskrun.dask.records import FINAL, RUNNING
from taskrun.dask.sealing import Channel, seal

#: how long a record may wait for company before the outbox publishes it
FLUSH_SECONDS = 0.005
#: records per published event (keeps each message, and the scheduler's event log, small)
MAX_RECORDS_PER_EVENT = 2000

#: (outbox, channel) of the task run executing in this thread, for log forwarding
active_run: contextvars.ContextVar[tuple[Outbox, Channel] | None] = contextvars.ContextVar(
    "orchestrator_active_run", default=None
)

_outboxes: weakref.WeakKeyDictionary[Any, Outbox] = weakref.WeakKeyDictionary()
_outboxes_lock = threading.Lock()


class Outbox:
    """Buffered records of one worker, per channel. Thread-safe; ``flush`` runs on the event
    loop."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self._records: dict[Channel, list[tuple[Any, ...]]] = {}
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, channel: Channel, record: tuple[Any, ...]) -> None:
        """Buffer ``record`` for ``channel``; the worker's event loop publishes it shortly."""
        with self._lock:
            self._records.setdefault(channel, []).append(record)
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
        for channel, buffered in records.items():
            items = without_overtaken(buffered)
            for start in range(0, len(items), MAX_RECORDS_PER_EVENT):
                sealed = seal(channel.secret, address, items[start : start + MAX_RECORDS_PER_EVENT])
                self.worker.log_event(channel.topic, sealed)


def without_overtaken(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``items`` without the running records of task runs whose final record follows in the
    same flush (a batch's short children start and end within one): the orchestrator would
    set a live ``Running`` only to replace it at once. One running record per Dask task is
    kept: it says where that task runs (what a worker's death is judged by). Order is kept.

    >>> without_overtaken([("r", "k", 0), ("f", "k", 0), ("r", "k", 1), ("f", "k", 1),
    ...                    ("r", "k", 2), ("l", "x")])
    [('r', 'k', 0), ('f', 'k', 0), ('f', 'k', 1), ('r', 'k', 2), ('l', 'x')]
    """
    finals = {(item[1], item[2]) for item in items if item[0] == FINAL}
    if not finals:
        return items
    kept: list[tuple[Any, ...]] = []
    running_in: set[Any] = set()  # Dask keys with a running record kept
    for item in items:
        if item[0] == RUNNING:
            if item[1] in running_in and (item[1], item[2]) in finals:
                continue
            running_in.add(item[1])
        kept.append(item)
    return kept


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
