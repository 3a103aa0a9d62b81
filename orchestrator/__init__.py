"""orchestrator: tasks and flows on Dask.

The public API, re-exported from the packages that own each concept. Layers (imports point
downwards only; ``taskrun`` never imports ``orchestrator``):

    orchestrator.cli, orchestrator.progress    the command line and live displays
    orchestrator.runs                          drive a run: DAG runner, @flow runs, futures
    orchestrator.task_runners                  where task runs execute: sequential, threads, Dask
    orchestrator.dag                           build the DAG: tasks, edges, flows (pure)
    taskrun                                    one task run: states, signals, triggers, executor
"""

from orchestrator.dag.apply_map import apply_map
from orchestrator.dag.collections import Constant
from orchestrator.dag.control_flow import case
from orchestrator.dag.edge import Edge
from orchestrator.dag.flow import Flow
from orchestrator.dag.markers import flatten, unmapped
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.resource_manager import resource_manager
from orchestrator.dag.tags import tags
from orchestrator.dag.task import Dependency, Task, task
from orchestrator.logging_setup import configure_logging
from orchestrator.runs.flow_decorator import flow
from taskrun.context import context

__version__ = "0.1.0"

configure_logging()

__all__ = [
    "Constant", "Dependency", "Edge", "Flow", "Parameter", "Task", "__version__", "apply_map",
    "case", "context", "flatten", "flow", "resource_manager", "tags", "task", "unmapped",
]  # fmt: skip
