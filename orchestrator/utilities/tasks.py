"""Prefect 1's ``prefect.utilities.tasks`` path: the helpers of it that exist here."""

from orchestrator.dag.markers import unmapped
from orchestrator.dag.task import task

__all__ = ["task", "unmapped"]
