"""Code that runs inside Dask worker processes (and in-process for local runs).

Layers: ``states`` and ``signals`` are plain values; ``triggers`` decide from
states; ``context`` and ``logs`` hold per-run keys and output; ``execute`` runs a
task run end to end. Nothing here imports ``orchestrator``: imports point from
``orchestrator`` into ``workers`` only.
"""

from workers.execute import run_task

__all__ = ["run_task"]
