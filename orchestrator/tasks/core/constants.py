"""``Constant`` (public path ``orchestrator.tasks.core.constants``)."""

from orchestrator.collections import Constant

__all__ = ["Constant"]
