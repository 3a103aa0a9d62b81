"""Prefect 1's ``prefect.tasks.core.resource_manager`` path (``orchestrator.tasks.resources``)."""

from orchestrator.dag.resource_manager import ResourceManager, resource_manager

__all__ = ["ResourceManager", "resource_manager"]
