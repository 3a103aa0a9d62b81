"""States of task runs and flow runs: small immutable values with predicates.

The public classes exist because users ``isinstance`` them; their predicates are
answered from ``StateKind`` groups (``taskrun.state_kinds``), so a new state only has
to be placed in the right groups. A state never changes once built
(``taskrun.state_fields``): ``evolve``, ``with_result`` and ``recast`` make changed copies.

    State
    ├── Pending ── Scheduled ── Retrying, Resume, Paused
    ├── Running
    └── Finished
        ├── Success ── Completed, Cached, Mapped, Skipped
        ├── Failed ── TriggerFailed, TimedOut, ValidationFailed
        ├── Looped
        └── Cancelled

Only the scheduled family carries a ``start_time`` (default: now; ``Paused``: ten years
ahead, so a paused task stays paused until resumed or its pause ends). ``State.children()``
and ``State.parents()`` list a class's relatives in this tree.

``StateKind``, ``StateType``, the kind groups and ``DeferredResult`` are re-exported here:
``from taskrun.states import X`` is the core's public path for all of them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, ClassVar

from taskrun.deferred_result import DeferredResult
from taskrun.result_access import ResultAccessor
from taskrun.state_fields import StateFields
from taskrun.state_kinds import (
    _MAPPED,
    FAILED,
    FINISHED,
    PENDING_KINDS,
    SCHEDULED_KINDS,
    SUCCESSFUL,
    K,
    KindPredicates,
    StateKind,
    StateType,
)
from taskrun.state_views import StateViews

__all__ = [
    "ALL_STATE_CLASSES", "FAILED", "FINISHED", "PENDING_KINDS", "SCHEDULED_KINDS", "SUCCESSFUL",
    "Cached", "Cancelled", "Completed", "DeferredResult", "Failed", "Finished", "K", "Looped",
    "Mapped", "Paused", "Pending", "Resume", "Retrying", "Running", "Scheduled", "Skipped",
    "State", "StateKind", "StateType", "Success", "TimedOut", "TriggerFailed", "ValidationFailed",
]  # fmt: skip

_UTC = _dt.UTC
#: how far ahead a ``Paused`` state without a start time is due: ten years, as Prefect 1
PAUSE_HORIZON = _dt.timedelta(days=3652)


class State(StateFields, KindPredicates, StateViews):
    """A task run's or flow run's state at one moment; never mutated after creation.

    Args:
        message: why the run is in this state, for people.
        result: the run's return value, or the exception for failed states.
        name: display name (``Completed`` is how the futures API shows ``Success``).
        map_states: a mapped task's child states, in map-index order.
        start_time: when a Scheduled/Retrying state becomes due.
        run_count: attempts made so far, carried by Retrying states.
        cached_inputs: inputs a Paused task would have received, reused on resume.
        timestamp: when the run entered the state; now if not given.
        duration: seconds the run's body took, set on final task-run states.

    Assigning a field raises ``AttributeError``; derive a changed copy instead:

    >>> done = Success("Task run succeeded.", 3)
    >>> done.evolve(message="Reused.").message, done.message
    ('Reused.', 'Task run succeeded.')

    A subclass may add attributes of its own in its ``__init__``; afterwards they are as
    fixed as the rest, and copies and pickles carry them over.
    """

    type: ClassVar[StateType] = StateType.PENDING
    color: ClassVar[str] = "#828282"

    __slots__ = ()

    # ---- result ---------------------------------------------------------------------------
    #: ``state.result()``: ``read_result`` behind a hint for ``state.result[task]``
    #: (``taskrun.result_access``)
    result: ClassVar[ResultAccessor] = ResultAccessor()

    def read_result(self, raise_on_failure: bool = True) -> Any:
        """The run's value; for a failed state with ``raise_on_failure`` re-raise its error.

        A mapped state returns the list of its children's results. A flow state returned by a
        ``@flow`` with no return value holds its task-run states; failing, it re-raises the
        first failed one's exception.
        """
        value = self._result
        if value is None and self.kind is _MAPPED:
            return [s.read_result(raise_on_failure) for s in self.map_states]
        if isinstance(value, DeferredResult):
            value = self.data
        if raise_on_failure and self.is_failed():
            if isinstance(value, BaseException):
                raise value
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, State) and item.is_failed():
                        item.read_result(True)
        return value

    @property
    def data(self) -> Any:
        """The stored value as is: no re-raising, no mapping (a deferred result is loaded).

        Internal memo: the first load of a ``DeferredResult`` replaces the reference with
        the loaded value inside this state, the one write after construction. It does not
        change the state's value (the reference stood for exactly that value); it keeps
        ``result()`` from fetching again and the value readable after the task runner that
        held it has closed. It does change what ``==`` can see without I/O (``__eq__``).
        """
        value = self._result
        if isinstance(value, DeferredResult):
            value = self._result = value.load()  # the internal memo described above
        return value

    # ---- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{self._name}(message={self._message!r}, type={self.type.value})"

    def __eq__(self, other: object) -> bool:
        """Equal when class, result and cached inputs agree (a mapped state's children too);
        the message, name, context and timestamps are ignored, as in Prefect 1.

        Never does I/O: results are compared as this process holds them. Two deferred
        results are equal when they refer to the same stored value
        (``DeferredResult.is_same_reference``); a deferred result never equals a value held
        here, whose counterpart is not known here (compare ``result()``s to compare values).
        A state that has loaded its deferred result holds the value and compares by it.
        """
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, State)
        return (
            _same_result(self._result, other._result)
            and _same_result(self._cached_inputs, other._cached_inputs)
            and self._map_states == other._map_states
        )

    #: identity, as Prefect 1: states go in sets and dict keys (``{state: ...}``, triggers
    #: given a set of states) and two equal states stay two members. This breaks Python's
    #: rule that equal objects hash equal, on purpose: hashing by value would need the
    #: result to be hashable and would load deferred results.
    __hash__ = object.__hash__


def _same_result(mine: Any, theirs: Any) -> bool:
    """Whether two stored results agree, without loading a deferred one (``State.__eq__``)."""
    if isinstance(mine, DeferredResult) or isinstance(theirs, DeferredResult):
        if isinstance(mine, DeferredResult) and isinstance(theirs, DeferredResult):
            return mine.is_same_reference(theirs)
        return False
    try:
        return bool(mine == theirs)
    except Exception:  # a value whose == is not a bool (an array, a data frame)
        return mine is theirs


class Pending(State):
    """Not yet run; also ``NotReady`` when an upstream state dependency failed."""

    __slots__ = ()


class Scheduled(Pending):
    """Due to run at ``start_time`` (default: now; a naive datetime is UTC)."""

    __slots__ = ()

    kind = K.SCHEDULED
    type = StateType.SCHEDULED
    _takes_start_time = True

    def __init__(
        self,
        message: str | None = None,
        result: Any = None,
        *,
        start_time: _dt.datetime | None = None,
        **fields: Any,
    ) -> None:
        if start_time is None:
            start_time = self._default_start_time()
        elif start_time.tzinfo is None:
            start_time = start_time.replace(tzinfo=_UTC)
        super().__init__(message, result, start_time=start_time, **fields)

    @staticmethod
    def _default_start_time() -> _dt.datetime:
        return _dt.datetime.now(_UTC)


class Paused(Scheduled):
    """Waiting for a person, or until ``start_time`` (default: ten years ahead). A flow run
    returns at once with the task paused; resume it with
    ``flow.run(task_states={**paused.result(), t: Resume()}, start_tasks=[t])``, which reuses
    the finished tasks' results as its inputs. A paused run given again after its start
    time (``pause_task(duration=...)``) resumes."""

    __slots__ = ()

    kind = K.PAUSED
    type = StateType.PAUSED
    color = "#ff9800"

    @staticmethod
    def _default_start_time() -> _dt.datetime:
        return _dt.datetime.now(_UTC) + PAUSE_HORIZON


class Retrying(Scheduled):
    """Between attempts; ``run_count`` attempts have been made."""

    __slots__ = ()

    kind = K.RETRYING
    color = "#ffc107"


class Resume(Scheduled):
    """Resumes a paused task: its trigger is not checked again."""

    __slots__ = ()

    kind = K.RESUME


class Running(State):
    """Executing now."""

    __slots__ = ()

    kind = K.RUNNING
    type = StateType.RUNNING
    color = "#2196f3"


class Finished(State):
    """Done, for better or worse."""

    __slots__ = ()

    kind = K.FINISHED
    type = StateType.COMPLETED


class Success(Finished):
    """Finished without error; ``result()`` is the return value."""

    __slots__ = ()

    kind = K.SUCCESS
    color = "#4caf50"


class Completed(Success):
    """``Success`` under the name the futures API shows."""

    __slots__ = ()


class Cached(Success):
    """Success reused from an earlier run."""

    __slots__ = ()

    kind = K.CACHED


class Mapped(Success):
    """The parent of mapped children; ``map_states`` holds their states."""

    __slots__ = ()

    kind = K.MAPPED


class Skipped(Success):
    """Did not run, on purpose (SKIP signal or an upstream skip)."""

    __slots__ = ()

    kind = K.SKIPPED
    color = "#9e9e9e"


class Failed(Finished):
    """Finished with an error; ``result()`` re-raises it."""

    __slots__ = ()

    kind = K.FAILED
    type = StateType.FAILED
    color = "#f44336"


class TriggerFailed(Failed):
    """The trigger decided the task must not run; its body never ran."""

    __slots__ = ()

    kind = K.TRIGGER_FAILED


class TimedOut(Failed):
    """The run exceeded the task's ``timeout``."""

    __slots__ = ()

    kind = K.TIMED_OUT


class ValidationFailed(Failed):
    """A task's result (or inputs) did not pass a validation (``VALIDATIONFAIL``)."""

    __slots__ = ()

    kind = K.VALIDATION_FAILED


class Looped(Finished):
    """One iteration of a looping task ended (``LOOP``): finished, but not final. The
    executor runs the next iteration from it (``taskrun.loops``); ``loop_count`` is the
    iteration that ended (1-based), kept in the state's context as ``task_loop_count``."""

    __slots__ = ()

    kind = K.LOOPED
    color = "#9c27b0"

    def __init__(
        self,
        message: str | None = None,
        result: Any = None,
        *,
        loop_count: int | None = None,
        context: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        if loop_count is not None:
            context = {**(context or {}), "task_loop_count": loop_count}
        super().__init__(message, result, context=context, **fields)

    @property
    def loop_count(self) -> int:
        """The iteration that ended in this state (1 when none was recorded)."""
        count = self.context.get("task_loop_count", 1)
        return int(count)


class Cancelled(Finished):
    """Stopped before it finished, on request."""

    __slots__ = ()

    kind = K.CANCELLED
    type = StateType.CANCELLED


ALL_STATE_CLASSES: tuple[type[State], ...] = (
    State, Pending, Paused, Scheduled, Retrying, Resume, Running, Finished, Success,
    Completed, Cached, Mapped, Skipped, Failed, TriggerFailed, TimedOut, ValidationFailed,
    Looped, Cancelled,
)  # fmt: skip
