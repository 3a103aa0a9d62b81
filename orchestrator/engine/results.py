"""Prefect 1's path for the result classes: ``orchestrator.engine.results`` (the same
objects as ``orchestrator.results``)."""

from taskrun.results import LocalResult, PrefectResult, Result

__all__ = ["LocalResult", "PrefectResult", "Result"]
