"""Core DAG objects (public path ``orchestrator.core``)."""

from orchestrator.edge import Edge
from orchestrator.flow import Flow
from orchestrator.parameter import Parameter
from orchestrator.task import Task

__all__ = ["Edge", "Flow", "Parameter", "Task"]
