"""The cyclic collector while flow runs (and their batches on workers) are active.

``survivors_frozen()`` wraps a flow run: full collections' survivors are frozen, and the
youngest generation is collected less often. ``young_collections_rare()`` wraps a Dask
task's task runs on a worker: only the latter.

A flow run keeps a few tracked objects per task run (handles, final states, journal records)
until it ends: a 1,000,000-child map holds millions. CPython's full collections walk every
tracked object, and they run whenever the objects promoted since the last one pass a quarter
of what that one kept; a big run's churn (plans, summaries, records that live a little while)
sets them off again and again, each walking everything the run keeps. That was a fifth of a
200,000-child map's time on dask-threads.

``gc.freeze()`` moves every tracked object into a permanent generation that collections
skip. Called right after a full collection, what it moves has just proved long-lived, so the
next one walks only what came since. Cyclic garbage among frozen objects waits, but not for
long: each time the frozen count doubles (past ``THAW_FLOOR``), and at least every
``THAW_SECONDS``, the next full collection walks everything once more (doubling makes that a
geometric series, linear overall; the clock bounds how long a dead cycle holding a big value
lingers), and when the last active run ends ``gc.unfreeze()`` hands every object back.
Reference counting frees what it can meanwhile, as always.

The youngest generation is collected less often too: Python collects it every 700 net
allocations, and a run's survivors then go through it and the middle one in thousands of
small collections (a fifth of a 100,000-child map's time on dask-threads, with the full
ones). While runs are active its threshold is ``YOUNG_THRESHOLD`` (fewer, larger
collections; the work per surviving object is the same, the cost per collection is paid
50x less often), and the process's own thresholds come back when the last run ends. On a
worker process the same holds while batches run (a 100,000-child map on two worker
processes: 4.7 -> 4.1 s).

Nothing is frozen in a process that froze objects itself (``gc.get_freeze_count()`` is not
0 when the first run begins), nor a threshold lowered that the process raised itself;
nothing changes with the collector disabled or with ``ORCHESTRATOR_FREEZE_SURVIVORS=0``.
Runs may nest or overlap in threads: the first to begin installs the hook, the last to
end removes it.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: frozen objects below which no full walk is forced (a small run never thaws)
THAW_FLOOR = 500_000
#: the longest a frozen object goes without a full walk
THAW_SECONDS = 30.0
#: the youngest generation's collection threshold while runs are active (Python's: 700)
YOUNG_THRESHOLD = 50_000
ENV_SWITCH = "ORCHESTRATOR_FREEZE_SURVIVORS"

_lock = threading.Lock()
_active_runs = 0
_hooked = False
_thawed_at = 0
_thawed_when = 0.0
#: runs and worker batches active, which collect the youngest generation rarely
_young_users = 0
#: the thresholds the process had when the first of them began (None: left as they were)
_saved_thresholds: tuple[int, int, int] | None = None


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    """``gc.callbacks`` hook: freeze a full collection's survivors, or thaw for a full walk."""
    global _thawed_at, _thawed_when
    if phase != "stop" or info["generation"] != 2:
        return
    frozen, now = gc.get_freeze_count(), time.monotonic()
    if frozen > 2 * max(_thawed_at, THAW_FLOOR // 2) or now - _thawed_when > THAW_SECONDS:
        gc.unfreeze()  # the next full collection walks everything: garbage in it is freed
        _thawed_at, _thawed_when = frozen, now
    else:
        gc.freeze()


def _switched_on() -> bool:
    switched_off = os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off")
    return not switched_off and gc.isenabled()


def _raise_young_threshold() -> tuple[int, int, int] | None:
    """Collect the youngest generation less often; the thresholds to restore (None: kept)."""
    saved = gc.get_threshold()
    if not _switched_on() or not 0 < saved[0] < YOUNG_THRESHOLD:
        return None
    gc.set_threshold(YOUNG_THRESHOLD, saved[1], saved[2])
    return saved


def _restore_thresholds(saved: tuple[int, int, int] | None) -> None:
    """The process's thresholds again, unless it changed them itself meanwhile."""
    if saved is not None and gc.get_threshold()[0] == YOUNG_THRESHOLD:
        gc.set_threshold(*saved)


def _young_begins() -> None:
    """One more user of the raised threshold (under ``_lock``)."""
    global _young_users, _saved_thresholds
    if _young_users == 0:
        _saved_thresholds = _raise_young_threshold()
    _young_users += 1


def _young_ends() -> None:
    """One user fewer; the last puts the process's thresholds back (under ``_lock``)."""
    global _young_users, _saved_thresholds
    _young_users -= 1
    if _young_users == 0:
        _restore_thresholds(_saved_thresholds)
        _saved_thresholds = None


@contextmanager
def young_collections_rare() -> Iterator[None]:
    """Collect the youngest generation every ``YOUNG_THRESHOLD`` allocations while this
    block (a Dask task's task runs on a worker) or another user is active."""
    with _lock:
        _young_begins()
    try:
        yield
    finally:
        with _lock:
            _young_ends()


@contextmanager
def survivors_frozen() -> Iterator[None]:
    """Freeze full collections' survivors while this block (a flow run) and any other runs
    are active; unfreeze everything when the last one ends."""
    global _active_runs, _hooked, _thawed_at, _thawed_when
    with _lock:
        _young_begins()
        if _active_runs == 0 and _switched_on() and gc.get_freeze_count() == 0:
            gc.callbacks.append(_after_collection)
            _hooked, _thawed_at, _thawed_when = True, 0, time.monotonic()
        _active_runs += 1
    try:
        yield
    finally:
        with _lock:
            _active_runs -= 1
            _young_ends()
            if _active_runs == 0 and _hooked:
                gc.callbacks.remove(_after_collection)
                _hooked = False
                gc.unfreeze()
