"""``FlowRunner`` at the path Prefect 1 users type (``orchestrator.engine.flow_runner``)."""

from orchestrator.runs.flow_runner import FlowRunner

__all__ = ["FlowRunner"]
