"""State kinds: the ``StateKind`` enum, its groups, and the predicates answered from them.

Every ``is_finished()``-style question about a state is answered here, from one member
per state class and a few module-level groups, so a new state class only has to be
placed in the right groups. ``StateType`` is the coarse type shown in reprs.

    PENDING_KINDS   Pending, Scheduled, Retrying, Resume, Paused
    SCHEDULED_KINDS Scheduled, Retrying, Resume, Paused (the ones with a start_time)
    SUCCESSFUL      Success, Cached, Mapped, Skipped
    FAILED          Failed, TriggerFailed, TimedOut, ValidationFailed
    FINISHED        SUCCESSFUL | FAILED | Finished, Cancelled, Looped

``Looped`` is finished but not final: the executor runs the task's next iteration from it
(``taskrun.loops``); it is neither successful nor failed, as in Prefect 1.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class StateType(enum.Enum):
    """The coarse type shown in reprs: what a user asks first about a run."""

    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    PAUSED = "PAUSED"

    def __repr__(self) -> str:
        return self.value


class StateKind(enum.Enum):
    """One member per state class; the groups below answer the predicates."""

    PENDING = "Pending"
    SCHEDULED = "Scheduled"
    RETRYING = "Retrying"
    RESUME = "Resume"
    PAUSED = "Paused"
    RUNNING = "Running"
    FINISHED = "Finished"
    LOOPED = "Looped"
    SUCCESS = "Success"
    CACHED = "Cached"
    MAPPED = "Mapped"
    SKIPPED = "Skipped"
    FAILED = "Failed"
    TRIGGER_FAILED = "TriggerFailed"
    TIMED_OUT = "TimedOut"
    VALIDATION_FAILED = "ValidationFailed"
    CANCELLED = "Cancelled"

    # Members are singletons compared by identity, so the identity hash is consistent with
    # equality; Enum's own ``__hash__`` is Python code, and every ``is_finished()`` and
    # transition check hashes a kind (about 12 per task run).
    __hash__ = object.__hash__


K = StateKind
# The predicates compare with these module constants: ``StateKind.RUNNING`` is a class
# attribute lookup through the Enum metaclass, several times slower than a global.
_RETRYING, _PAUSED, _RESUME, _RUNNING, _MAPPED, _LOOPED = (
    K.RETRYING, K.PAUSED, K.RESUME, K.RUNNING, K.MAPPED, K.LOOPED,
)  # fmt: skip
_SKIPPED, _CACHED, _CANCELLED, _TIMED_OUT, _TRIGGER_FAILED = (
    K.SKIPPED, K.CACHED, K.CANCELLED, K.TIMED_OUT, K.TRIGGER_FAILED,
)  # fmt: skip
PENDING_KINDS = frozenset({K.PENDING, K.SCHEDULED, K.RETRYING, K.RESUME, K.PAUSED})
SCHEDULED_KINDS = frozenset({K.SCHEDULED, K.RETRYING, K.RESUME, K.PAUSED})
SUCCESSFUL = frozenset({K.SUCCESS, K.CACHED, K.MAPPED, K.SKIPPED})
FAILED = frozenset({K.FAILED, K.TRIGGER_FAILED, K.TIMED_OUT, K.VALIDATION_FAILED})
FINISHED = SUCCESSFUL | FAILED | frozenset({K.FINISHED, K.CANCELLED, K.LOOPED})


class KindPredicates:
    """The ``is_*`` predicates of a state, answered from its class's ``kind`` alone."""

    __slots__ = ()

    kind: ClassVar[StateKind] = K.PENDING

    def is_pending(self) -> bool:
        return self.kind in PENDING_KINDS

    def is_scheduled(self) -> bool:
        return self.kind in SCHEDULED_KINDS

    def is_retrying(self) -> bool:
        return self.kind is _RETRYING

    def is_paused(self) -> bool:
        return self.kind is _PAUSED

    def is_resume(self) -> bool:
        return self.kind is _RESUME

    def is_running(self) -> bool:
        return self.kind is _RUNNING

    def is_finished(self) -> bool:
        return self.kind in FINISHED

    def is_successful(self) -> bool:
        return self.kind in SUCCESSFUL

    def is_failed(self) -> bool:
        return self.kind in FAILED

    def is_skipped(self) -> bool:
        return self.kind is _SKIPPED

    def is_mapped(self) -> bool:
        return self.kind is _MAPPED

    def is_cached(self) -> bool:
        return self.kind is _CACHED

    def is_cancelled(self) -> bool:
        return self.kind is _CANCELLED

    def is_completed(self) -> bool:
        return self.is_successful()

    def is_timed_out(self) -> bool:
        return self.kind is _TIMED_OUT

    def is_trigger_failed(self) -> bool:
        return self.kind is _TRIGGER_FAILED

    def is_looped(self) -> bool:
        return self.kind is _LOOPED
