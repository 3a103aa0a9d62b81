"""The contract suite: behaviour every task runner must show, run on each of them.

Every test here takes the ``task_runner`` fixture (``conftest.py``), so it runs on the
sequential runner, the thread pool and Dask (a shared in-process ``LocalCluster``).
Tests of one runner's own behaviour stay beside that runner's other tests.
"""
