"""``survivors_frozen()``: while flow runs are active, a full collection's survivors are frozen.

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

Nothing changes in a process that froze objects itself (``gc.get_freeze_count()`` is not 0
when the first run begins), with the collector disabled, or with
``ORCHESTRATOR_FREEZE_SURVIVORS=0``. Runs may nest or overlap in threads: the first to begin
installs the hook, the last to end removes it.
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
ENV_SWITCH = "ORCHESTRATOR_FREEZE_SURVIVORS"

_lock = threading.Lock()
_active_runs = 0
_hooked = False
_thawed_at = 0
_thawed_when = 0.0


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


def _may_freeze() -> bool:
    switched_off = os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off")
    return not switched_off and gc.isenabled() and gc.get_freeze_count() == 0


@contextmanager
def survivors_frozen() -> Iterator[None]:
    """Freeze full collections' survivors while this block (a flow run) and any other runs
    are active; unfreeze everything when the last one ends."""
    global _active_runs, _hooked, _thawed_at, _thawed_when
    with _lock:
        if _active_runs == 0 and _may_freeze():
            gc.callbacks.append(_after_collection)
            _hooked, _thawed_at, _thawed_when = True, 0, time.monotonic()
        _active_runs += 1
    try:
        yield
    finally:
        with _lock:
            _active_runs -= 1
            if _active_runs == 0 and _hooked:
                gc.callbacks.remove(_after_collection)
                _hooked = False
                gc.unfreeze()
