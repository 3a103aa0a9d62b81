"""Warm-up time: one-off work a task run did for the runs after it, left out of its timing.

The Dask runner sizes batches of mapped children from how long the first children took
(``orchestrator/task_runners/dask/batching.py``). The first cache check of a flow run in
a worker thread reads a shard of the persisted cache index in bulk (``cache_store``):
milliseconds, which every later check of that flow run skips. Counted as the child's
time, it made a warm 100 µs hit look like 14 ms, and a cached re-run of 100,000 children
ran as 100,000 Dask tasks. Such work is added here, per thread, and taken off the
elapsed time a worker reports for batching (the state's own duration keeps it).
"""

from __future__ import annotations

import threading

_spent = threading.local()


def add_warm_up(seconds: float) -> None:
    """This thread spent ``seconds`` on work later task runs will not repeat."""
    _spent.seconds = getattr(_spent, "seconds", 0.0) + seconds


def take_warm_up() -> float:
    """The warm-up seconds this thread added since the last take (and start afresh)."""
    seconds: float = getattr(_spent, "seconds", 0.0)
    _spent.seconds = 0.0
    return seconds
