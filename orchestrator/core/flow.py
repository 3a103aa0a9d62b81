"""Prefect 1's ``prefect.core.flow`` path: ``Flow`` (owned by ``orchestrator.dag.flow``)."""

from orchestrator.dag.flow import Flow

__all__ = ["Flow"]
