"""orchestrator: tasks and flows on Dask.

Layers (imports point downwards only):

    orchestrator.cli                     command line
    orchestrator.flow_runner, futures    drive runs on a task runner
    orchestrator.task_runners            sequential, threads, Dask
    orchestrator.flow, task, edge, ...   build the DAG (pure)
    workers                              states, signals, triggers, context, executor
"""

from orchestrator.collections import Constant
from orchestrator.edge import Edge
from orchestrator.flow import Flow
from orchestrator.flow_decorator import flow
from orchestrator.logging_setup import configure_logging
from orchestrator.mapping import flatten, unmapped
from orchestrator.parameter import Parameter
from orchestrator.task import Dependency, Task, task
from workers.context import context

__version__ = "0.1.0"

configure_logging()

__all__ = [
    "Constant", "Dependency", "Edge", "Flow", "Parameter", "Task", "__version__", "context",
    "flatten", "flow", "task", "unmapped",
]  # fmt: skip
