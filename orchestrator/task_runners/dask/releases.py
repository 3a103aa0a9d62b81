"""Releasing the Dask tasks of task runs nothing will read any more.

The runner's ``release(handle)`` is a hint that no task run submitted later reads that
run: its Dask task's future may go, so the cluster forgets the result once the Dask tasks
already holding it are done. A Dask task that runs several task runs (a batch, a group)
goes only once every one of them is released; a run still gathered for a group
(``coalescing``) is counted when its group is sent. While runs are gathered, releases
wait until they are sent: a gathered run may read the released one, and its plan points
at that run's Dask future when it is made. No Dask imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.task_runners.dask.handles import DaskHandle, Submitted

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.submit import Submitter


def release_all(submitter: Submitter | None, handles: Sequence[Any], session: Any) -> None:
    """The runner's ``release``: each handle now, or, while runs are gathered (any may
    read it, and its Dask future must be there when they are sent), once they are sent."""
    if submitter is None:
        for handle in handles:
            release(handle.submitted, handle, session)
        return
    coalescer = submitter.coalescer
    with coalescer.lock:
        if coalescer.entries:
            coalescer.released_later.extend(handles)
            return
        for handle in handles:
            release(handle.submitted, handle, session)


def release(submitted: Submitted | None, handle: DaskHandle, session: Any) -> None:
    """``handle`` will not be read by any run submitted later: once every run of its Dask
    task is, the session may let the cluster forget it (a gathered run is counted when
    its group is sent)."""
    if handle.released:
        return
    handle.released = True
    if submitted is None or session is None:
        return
    submitted.releases += 1
    if submitted.releases >= len(submitted.handles):
        session.release(submitted)
