"""Core DAG objects (public path ``orchestrator.core``)."""

from orchestrator.dag.edge import Edge
from orchestrator.dag.flow import Flow
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.task import Task

__all__ = ["Edge", "Flow", "Parameter", "Task"]
