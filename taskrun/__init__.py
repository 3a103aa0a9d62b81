"""One task run, wherever it executes (this process, a thread pool, a Dask worker).

Layers: ``states`` and ``signals`` are plain values, ``transitions`` the allowed moves;
``triggers`` decide from states; ``context`` and ``logs`` hold per-run keys and output;
``wire`` the records a task run travels as; ``execute`` runs a task run end to end. The Dask
half (``taskrun.dask``) wraps it for Dask workers. Nothing here imports ``orchestrator``,
and nothing outside ``taskrun.dask`` imports Dask.
"""

from taskrun.execute import run_task
from taskrun.pause import pause_task

__all__ = ["pause_task", "run_task"]
