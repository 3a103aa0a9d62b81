"""Prefect 1's ``prefect.tasks.control_flow`` path: ``case``, ``switch``, ``ifelse``, ``merge``,
``FilterTask``.

They live in ``orchestrator.dag.control_flow``; see its docstring for how a branch is built.
"""

from orchestrator.dag.control_flow import FilterTask, case, ifelse, merge, switch

__all__ = ["FilterTask", "case", "ifelse", "merge", "switch"]
