"""The client half of the Dask backend: ``DaskTaskRunner`` and what it is made of (session,
submission, shipping, handles, keys, batching, fault repair). With ``taskrun.dask`` (the
worker half), the only code that imports Dask."""

from orchestrator.task_runners.dask.runner import DaskTaskRunner

__all__ = ["DaskTaskRunner"]
