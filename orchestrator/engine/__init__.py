"""The engine (public path ``orchestrator.engine``): run a single task (``TaskRunner``) or a
whole DAG flow (``FlowRunner``); the state classes and signals live here for users too."""

from orchestrator.engine import signals, state
from orchestrator.engine.flow_runner import FlowRunner
from orchestrator.engine.task_runner import TaskRunner

__all__ = ["FlowRunner", "TaskRunner", "signals", "state"]
