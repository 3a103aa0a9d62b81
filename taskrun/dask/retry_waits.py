"""Retry waits on a Dask worker: awaited on its event loop, holding no thread.

``run_one`` and ``run_batch`` (``taskrun.dask.entry``) are coroutine functions, so Dask
runs them on the worker's event loop. Each runs the attempts of its task runs in the
worker's thread pool; a run whose next attempt must wait comes back as ``Waiting`` (its
executor ``RetryLater`` inside), and the event loop awaits the earliest due time, with
no thread held, then runs the attempts that are due, and so on:

    event loop                                    worker thread pool
    run_batch --in_pool(start)------------------> first attempts of every child
              <-- states, Waiting children ------ (a child to retry later: Waiting)
    leave the Dask thread slot (once)
    await asyncio.sleep(until the earliest due)
              --in_pool(resume, the due ones)---> their next attempts
              <-- states, Waiting children ------ ... until no child waits
    return the states

So the other children of a batch never wait behind a retry delay, and one delay does
not hold up the next: each child is resumed when its own delay is over. While anything
waits, the Dask task leaves its thread slot (Dask's "long-running" state, as
``distributed.secede`` would do for a thread), so other Dask tasks run on the worker
meanwhile. A pool thread runs attempts with Dask's thread state set (key, start time),
so a body may still call ``get_worker``, ``secede`` or ``worker_client``.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, NamedTuple, TypeVar, cast

from distributed.utils import set_thread_state
from distributed.worker_state_machine import SecedeEvent

from taskrun.dask.shipping import RunPlan
from taskrun.retries import RetryLater
from taskrun.states import State

T = TypeVar("T")


class Waiting(NamedTuple):
    """A task run of a Dask task waiting for its next attempt."""

    #: its place among the Dask task's plans (and states)
    position: int
    plan: RunPlan
    #: holds the run until ``resume()``
    later: RetryLater
    #: ``time.monotonic()`` when its next attempt is due
    due: float
    #: ``time.perf_counter()`` when the run started (for its summary's elapsed time)
    started: float


#: the first attempts of a Dask task's runs: a state (or Waiting) per plan, in order
Start = Callable[[], list[State | Waiting]]
#: the next attempts of waiting runs: a state (or Waiting again) per run given, in order
Resume = Callable[[list[Waiting]], list[State | Waiting]]


async def run_waiting(worker: Any, key: str, start: Start, resume: Resume) -> list[State]:
    """Run ``start`` in the worker's pool, then ``resume`` the runs that wait, each once it is
    due, until every run has its state (see the module docstring); event loop only."""
    begun = time.time()
    found = await in_pool(worker, key, start)
    waiting = [item for item in found if type(item) is Waiting]
    if not waiting:
        return cast(list[State], found)  # nothing waits: every item is a State
    _leave_slot(worker, key, begun)
    states = found
    while waiting:
        await asyncio.sleep(max(0.0, min(item.due for item in waiting) - time.monotonic()))
        now = time.monotonic()
        due = [item for item in waiting if item.due <= now]
        waiting = [item for item in waiting if item.due > now]
        for item, outcome in zip(due, await in_pool(worker, key, resume, due), strict=True):
            states[item.position] = outcome
            if type(outcome) is Waiting:
                waiting.append(outcome)
    return cast(list[State], states)  # no item waits any more


async def in_pool(worker: Any, key: str, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in the worker's thread pool, in a copy of this context (the
    worker stays reachable through ``get_worker``), as Dask runs a task in a thread."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    pool = getattr(worker, "executor", None)
    if not isinstance(pool, Executor) or isinstance(pool, ProcessPoolExecutor):
        pool = None  # the event loop's default threads (a process pool cannot take the context)
    return await loop.run_in_executor(
        pool, context.run, _as_dask_thread, worker, key, function, *args
    )


def _as_dask_thread(worker: Any, key: str, function: Callable[..., T], *args: Any) -> T:
    """Dask's thread state for ``key`` around ``function`` (what ``secede`` reads)."""
    state = getattr(worker, "execution_state", None)
    with set_thread_state(start_time=time.time(), execution_state=state, key=key):
        return function(*args)


def _leave_slot(worker: Any, key: str, begun: float) -> None:
    """Tell the worker that the Dask task ``key`` no longer needs a thread slot (the
    ``SecedeEvent`` that ``distributed.secede`` sends for a thread)."""
    event = SecedeEvent(
        key=key,
        compute_duration=time.time() - begun,
        stimulus_id=f"orchestrator-retry-wait-{time.time()}",
    )
    worker.loop.add_callback(worker.handle_stimulus, event)
