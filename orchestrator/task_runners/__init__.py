"""Task runners: where task runs execute (this thread, a thread pool, or Dask)."""

from __future__ import annotations

from typing import Any

from orchestrator.task_runners.base import BaseTaskRunner
from orchestrator.task_runners.concurrent import ConcurrentTaskRunner
from orchestrator.task_runners.sequential import SequentialTaskRunner

__all__ = ["BaseTaskRunner", "ConcurrentTaskRunner", "DaskTaskRunner", "SequentialTaskRunner"]


def __getattr__(name: str) -> Any:
    # Dask is imported only when asked for, so local runs and `import orchestrator` stay light.
    if name == "DaskTaskRunner":
        from orchestrator.task_runners.dask.runner import DaskTaskRunner

        return DaskTaskRunner
    raise AttributeError(f"module 'orchestrator.task_runners' has no attribute {name!r}")
