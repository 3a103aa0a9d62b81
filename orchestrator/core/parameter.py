"""Prefect 1's ``prefect.core.parameter`` path: ``Parameter`` and ``DateTimeParameter``
(owned by ``orchestrator.dag.parameter``)."""

from orchestrator.dag.parameter import DateTimeParameter, Parameter

__all__ = ["DateTimeParameter", "Parameter"]
