"""The state classes (public path ``orchestrator.engine.state``)."""

from taskrun.states import (
    Cached,
    Cancelled,
    Completed,
    Failed,
    Finished,
    Looped,
    Mapped,
    Paused,
    Pending,
    Resume,
    Retrying,
    Running,
    Scheduled,
    Skipped,
    State,
    StateKind,
    StateType,
    Success,
    TimedOut,
    TriggerFailed,
    ValidationFailed,
)

__all__ = [
    "Cached", "Cancelled", "Completed", "Failed", "Finished", "Looped", "Mapped", "Paused",
    "Pending", "Resume", "Retrying", "Running", "Scheduled", "Skipped", "State", "StateKind",
    "StateType", "Success", "TimedOut", "TriggerFailed", "ValidationFailed",
]  # fmt: skip
