"""Driving runs: the DAG flow runner and its pure scheduling decisions, mapping expansion,
the run context, and the ``@flow`` function API (flow runs, task calls, futures, final
states). Task runs execute on a task runner (``orchestrator.task_runners``)."""
