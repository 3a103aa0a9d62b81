"""Prefect 1's executor names, for code written against ``prefect.executors``.

Each name is the task runner that does the same job here (pass either to
``flow.run(executor=...)`` or ``flow.run(task_runner=...)``):

    LocalExecutor      -> SequentialTaskRunner   task runs one at a time, in this thread
    LocalDaskExecutor  -> ConcurrentTaskRunner   a local thread pool; Prefect 1 ran Dask's
                                                 local threaded scheduler, this runs a plain
                                                 thread pool (no Dask) with the same effect
    DaskExecutor       -> DaskTaskRunner         a Dask cluster (imported only when asked for)

They are the same classes, so constructor options are the task runners' own, not Prefect 1's.
"""

from __future__ import annotations

from typing import Any

from orchestrator.task_runners.concurrent import ConcurrentTaskRunner
from orchestrator.task_runners.sequential import SequentialTaskRunner

#: Prefect 1's ``LocalExecutor``: task runs one at a time in the calling thread
LocalExecutor = SequentialTaskRunner
#: Prefect 1's ``LocalDaskExecutor``: here a thread pool (``ConcurrentTaskRunner``), not Dask
LocalDaskExecutor = ConcurrentTaskRunner

__all__ = ["DaskExecutor", "LocalDaskExecutor", "LocalExecutor"]


def __getattr__(name: str) -> Any:
    # Dask is imported only when asked for, as in ``orchestrator.task_runners``.
    if name == "DaskExecutor":
        from orchestrator.task_runners.dask.runner import DaskTaskRunner

        return DaskTaskRunner
    raise AttributeError(f"module 'orchestrator.executors' has no attribute {name!r}")
