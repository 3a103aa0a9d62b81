"""Prefect 1's ``prefect.utilities.tasks`` path: the helpers of it that exist here."""

from orchestrator.dag.attr_defaults import defaults_from_attrs
from orchestrator.dag.markers import unmapped
from orchestrator.dag.tags import tags
from orchestrator.dag.task import task
from taskrun.pause import pause_task

__all__ = ["defaults_from_attrs", "pause_task", "tags", "task", "unmapped"]
