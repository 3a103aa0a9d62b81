"""Which state a task run may move to from which: one table, checked on every move.

The executor proposes each new state; ``check_transition`` rejects a move the
table does not allow with an ``InvalidTransitionError`` (an engine bug, never the
user's fault). State handlers are user code and may return any state: the table
constrains what the engine proposes, not what a handler decides.

    Pending-like --> Running --> finished (Success, Failed, Skipped, ...)
         |              |  \\--> Retrying / Paused --> Running ...
         |              \\--> (ENDRUN: any state the user asks for)
         \\--> Skipped, TriggerFailed, Paused, Failed (before running)
    Failed, TimedOut, ValidationFailed --> Retrying
    Looped --> Running (the next iteration)  (other finished states are final)
"""

from __future__ import annotations

from collections.abc import Mapping

from taskrun.states import PENDING_KINDS, State, StateKind

K = StateKind

_BEFORE_RUNNING = frozenset(
    {K.RUNNING, K.SKIPPED, K.TRIGGER_FAILED, K.PAUSED, K.FAILED, K.CANCELLED, K.CACHED}
)  # Cached: a target or a valid cache found before running (taskrun.persistence)

#: allowed next kinds for each kind; a kind missing here is final
ALLOWED: Mapping[StateKind, frozenset[StateKind]] = {
    **{kind: _BEFORE_RUNNING for kind in PENDING_KINDS},
    # ENDRUN lets user code end a run in any state it names, so Running may go anywhere else.
    K.RUNNING: frozenset(StateKind) - {K.RUNNING},
    K.FAILED: frozenset({K.RETRYING}),
    K.TIMED_OUT: frozenset({K.RETRYING}),
    K.VALIDATION_FAILED: frozenset({K.RETRYING}),
    # a loop's next iteration; or a resumed loop that cannot get its inputs
    K.LOOPED: frozenset({K.RUNNING, K.FAILED}),
}


class InvalidTransitionError(Exception):
    """An engine bug: a task run was moved between states in a way that is not allowed."""

    def __init__(self, task_name: str, old: str, new: str) -> None:
        super().__init__(task_name, old, new)
        self.task_name, self.old, self.new = task_name, old, new

    def __str__(self) -> str:
        return (
            f"Task {self.task_name!r}: invalid transition {self.old} -> {self.new}. "
            "This is a bug in the orchestrator, please report it."
        )


_FINAL: frozenset[StateKind] = frozenset()


def is_allowed(old: State, new: State) -> bool:
    """Whether the table lets a run in ``old`` move to ``new``."""
    return new.kind in ALLOWED.get(old.kind, _FINAL)


def check_transition(task_name: str, old: State, new: State) -> None:
    """Raise ``InvalidTransitionError`` naming the task and both states if not allowed."""
    # the test of ``is_allowed``, inlined: the executor checks every move of every run
    if new.kind not in ALLOWED.get(old.kind, _FINAL):
        raise InvalidTransitionError(task_name, repr(old), repr(new))
