"""The engine: run a single task (``TaskRunner``) or a whole DAG flow (``FlowRunner``)."""

from orchestrator.engine import signals, state
from orchestrator.engine.task_runner import TaskRunner
from orchestrator.flow_runner import FlowRunner

__all__ = ["FlowRunner", "TaskRunner", "signals", "state"]
