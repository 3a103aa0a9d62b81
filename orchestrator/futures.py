"""Futures of ``@flow`` task runs (public path ``orchestrator.futures``)."""

from orchestrator.runs.futures import Future

__all__ = ["Future"]
