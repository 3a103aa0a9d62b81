"""Resource managers: Prefect 1's ``prefect.resource_manager`` and its ResourceManager class.

They live in ``orchestrator.dag.resource_manager``; see its docstring for the tasks they add.
"""

from orchestrator.dag.resource_manager import ResourceManager, resource_manager

__all__ = ["ResourceManager", "resource_manager"]
