"""``python -m workers SCHEDULER_ADDRESS``: start a Dask worker ready for orchestrator task
runs. The code it runs lives in ``taskrun`` (the task-run core) and ``taskrun.dask`` (its
Dask half); this package is the deployment entry point only."""
