"""Prefect 1's path for cache validators: ``orchestrator.engine.cache_validators``.

``@task(cache_for=timedelta(hours=1), cache_validator=cache_validators.all_inputs)``; see
``taskrun.cache_validators`` for what each one accepts.
"""

from taskrun.cache_validators import (
    all_inputs,
    all_parameters,
    duration_only,
    never_use,
    partial_inputs_only,
    partial_parameters_only,
)

__all__ = [
    "all_inputs", "all_parameters", "duration_only", "never_use", "partial_inputs_only",
    "partial_parameters_only",
]  # fmt: skip
