"""Prefect 1's ``prefect.core.edge`` path: ``Edge`` (owned by ``orchestrator.dag.edge``)."""

from orchestrator.dag.edge import Edge

__all__ = ["Edge"]
