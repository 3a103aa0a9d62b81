"""The worker half of the Dask backend: the Dask task entry points, the worker plugin and
outbox, argument shipping and batch plans, the summary records, and the worker command
(``python -m workers``). With ``orchestrator.task_runners.dask``, the only code that imports
Dask."""
