"""``Constant`` (public path ``orchestrator.tasks.core.constants``)."""

from orchestrator.dag.collections import Constant

__all__ = ["Constant"]
