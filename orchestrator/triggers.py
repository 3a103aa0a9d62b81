"""Triggers (public path ``orchestrator.triggers``); they are evaluated where tasks run."""

from taskrun.triggers import (
    Decision,
    TriggerResult,
    all_failed,
    all_finished,
    all_successful,
    always_run,
    any_failed,
    any_successful,
    manual_only,
    not_all_skipped,
    some_failed,
    some_successful,
)

__all__ = [
    "Decision", "TriggerResult", "all_failed", "all_finished", "all_successful", "always_run",
    "any_failed", "any_successful", "manual_only", "not_all_skipped", "some_failed",
    "some_successful",
]  # fmt: skip
