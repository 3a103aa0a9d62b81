"""Prefect 1's ``prefect.core.task`` path: ``Task`` (owned by ``orchestrator.dag.task``)."""

from orchestrator.dag.task import Task

__all__ = ["Task"]
