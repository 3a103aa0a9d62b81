"""Prefect 1's path for serializers: ``orchestrator.engine.serializers``."""

from taskrun.results import JSONSerializer, PandasSerializer, PickleSerializer, Serializer

__all__ = ["JSONSerializer", "PandasSerializer", "PickleSerializer", "Serializer"]
