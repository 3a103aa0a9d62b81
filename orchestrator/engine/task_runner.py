"""``TaskRunner`` at the path Prefect 1 users type (``orchestrator.engine.task_runner``)."""

from orchestrator.runs.single_task import TaskRunner

__all__ = ["TaskRunner"]
