"""Cancelling task runs on Dask: the Dask tasks of a cancelled flow run leave the scheduler.

A Dask task may run several task runs (a batch of mapped children), so it is cancelled
only when every one of its task runs is being cancelled or is over; a batch with one
child still wanted keeps running. The cancelled futures then settle as usual (the
session's failure path): their unfinished task runs become ``Cancelled``, and the
scheduler forgets the keys once no client wants them. A Dask task already running on a
worker thread cannot be interrupted: Dask releases it and drops its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.handles import DaskHandle
    from orchestrator.task_runners.dask.session import DaskSession


def cancel_unfinished(session: DaskSession | None, handles: Sequence[DaskHandle]) -> None:
    """Cancel the Dask tasks of the unfinished runs among ``handles`` (see the module)."""
    if session is None or not handles:
        return
    chosen = {id(handle) for handle in handles}
    futures: list[Any] = []
    seen: set[int] = set()
    with session.cond:
        for handle in handles:
            submitted = handle.submitted
            if submitted is None or handle.is_final or id(submitted) in seen:
                continue
            seen.add(id(submitted))
            future = submitted.future
            others = submitted.handles
            if future is not None and all(id(h) in chosen or h.is_final for h in others):
                futures.append(future)
    if futures:
        session.client.cancel(futures)
