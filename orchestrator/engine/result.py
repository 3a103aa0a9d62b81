"""Prefect 1's path for the result base class: ``orchestrator.engine.result.Result``."""

from taskrun.results import Result

__all__ = ["Result"]
