"""States of task runs and flow runs: small immutable values with predicates.

The public classes exist because users ``isinstance`` them; every predicate is
answered from one place, the ``StateKind`` groups below, so a new state only
has to be placed in the right groups.

    State
    ├── Pending ── Scheduled ── Retrying, Resume;  Paused
    ├── Running
    └── Finished
        ├── Success ── Completed, Cached, Mapped, Skipped
        ├── Failed ── TriggerFailed, TimedOut
        └── Cancelled
"""

from __future__ import annotations

import datetime as _dt
import enum
import html
from collections.abc import Sequence
from typing import Any, ClassVar


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
    SUCCESS = "Success"
    CACHED = "Cached"
    MAPPED = "Mapped"
    SKIPPED = "Skipped"
    FAILED = "Failed"
    TRIGGER_FAILED = "TriggerFailed"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"

    # Members are singletons compared by identity, so the identity hash is consistent with
    # equality; Enum's own ``__hash__`` is Python code, and every ``is_finished()`` and
    # transition check hashes a kind (about 12 per task run).
    __hash__ = object.__hash__


K = StateKind
# The predicates compare with these module constants: ``StateKind.RUNNING`` is a class
# attribute lookup through the Enum metaclass, several times slower than a global.
_RETRYING, _PAUSED, _RESUME, _RUNNING, _MAPPED = (
    K.RETRYING, K.PAUSED, K.RESUME, K.RUNNING, K.MAPPED,
)  # fmt: skip
_SKIPPED, _CACHED, _CANCELLED, _TIMED_OUT, _TRIGGER_FAILED = (
    K.SKIPPED, K.CACHED, K.CANCELLED, K.TIMED_OUT, K.TRIGGER_FAILED,
)  # fmt: skip
PENDING_KINDS = frozenset({K.PENDING, K.SCHEDULED, K.RETRYING, K.RESUME, K.PAUSED})
SCHEDULED_KINDS = frozenset({K.SCHEDULED, K.RETRYING, K.RESUME})
SUCCESSFUL = frozenset({K.SUCCESS, K.CACHED, K.MAPPED, K.SKIPPED})
FAILED = frozenset({K.FAILED, K.TRIGGER_FAILED, K.TIMED_OUT})
FINISHED = SUCCESSFUL | FAILED | frozenset({K.FINISHED, K.CANCELLED})


class DeferredResult:
    """A result kept elsewhere (a Dask worker's memory) and loaded when first asked for.

    Task runners that keep results out of this process put one in a state;
    ``State.result()`` and ``State.data`` load it once and keep the value. It pickles
    as the value itself.
    """

    __slots__ = ()

    #: the result's type name, for displays that must not load it
    type_name = "object"

    def load(self) -> Any:
        """The value; raises an error saying why when it cannot be had any more."""
        raise NotImplementedError

    def __reduce__(self) -> tuple[Any, ...]:
        return (_loaded, (self.load(),))


def _loaded(value: Any) -> Any:
    return value


_now = _dt.datetime.now
_UTC = _dt.UTC


class State:
    """A task run's or flow run's state at one moment; never mutated after creation.

    Args:
        message: why the run is in this state, for people.
        result: the run's return value, or the exception for failed states.
        name: display name (``Completed`` is how the futures API shows ``Success``).
    """

    kind: ClassVar[StateKind] = K.PENDING
    type: ClassVar[StateType] = StateType.PENDING
    color: ClassVar[str] = "#828282"

    # slots: a map over a million children holds a few states per child
    __slots__ = (
        "_map_states",
        "_result",
        "cached_inputs",
        "duration",
        "message",
        "name",
        "run_count",
        "start_time",
        "timestamp",
    )

    def __init__(
        self,
        message: str | None = None,
        result: Any = None,
        *,
        name: str | None = None,
        map_states: Sequence[State] | None = None,
        start_time: _dt.datetime | None = None,
        run_count: int = 0,
        cached_inputs: dict[str, Any] | None = None,
        timestamp: _dt.datetime | None = None,
        duration: float | None = None,
    ) -> None:
        self.message = message
        self._result = result
        self.name = name or type(self).__name__
        self._map_states: list[State] | None = list(map_states) if map_states else None
        #: when a Scheduled/Retrying state becomes due
        self.start_time = start_time
        #: attempts made so far, carried by Retrying states
        self.run_count = run_count
        #: inputs a Paused task would have received, reused on resume
        self.cached_inputs = cached_inputs
        self.timestamp = timestamp or _now(_UTC)
        #: seconds the run's body took, set on final task-run states
        self.duration = duration

    # ---- result ---------------------------------------------------------------------------
    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's value; for a failed state with ``raise_on_failure`` re-raise its error.

        A mapped state returns the list of its children's results. A flow state returned by a
        ``@flow`` with no return value holds its task-run states; failing, it re-raises the
        first failed one's exception.
        """
        if self.kind is _MAPPED and self._result is None:
            return [s.result(raise_on_failure=raise_on_failure) for s in self.map_states]
        value = self.data
        if raise_on_failure and self.is_failed():
            if isinstance(value, BaseException):
                raise value
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, State) and item.is_failed():
                        item.result(raise_on_failure=True)
        return value

    @property
    def data(self) -> Any:
        """The stored value as is: no re-raising, no mapping (a deferred result is loaded)."""
        value = self._result
        if isinstance(value, DeferredResult):
            value = self._result = value.load()  # kept: the value does not change
        return value

    @property
    def map_states(self) -> list[State]:
        """Child states of a mapped task, in map-index order (empty for other states)."""
        children = self._map_states
        return children if children is not None else []

    def with_result(self, result: Any) -> State:
        """A copy of this state holding ``result`` (same class, message, name)."""
        clone = self.recast(type(self))
        clone._result = result
        return clone

    def recast(self, cls: type[State]) -> State:
        """A copy of this state as an instance of ``cls``, every field carried over as is
        (a deferred result is not loaded)."""
        clone = object.__new__(cls)
        clone.message, clone._result, clone.name = self.message, self._result, self.name
        clone._map_states, clone.start_time, clone.run_count = (
            self._map_states,
            self.start_time,
            self.run_count,
        )
        clone.cached_inputs, clone.timestamp, clone.duration = (
            self.cached_inputs,
            self.timestamp,
            self.duration,
        )
        extra = getattr(self, "__dict__", None)  # a user's subclass may add attributes
        if extra:
            clone.__dict__.update(extra)
        return clone

    # ---- predicates -----------------------------------------------------------------------
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

    # ---- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{self.name}(message={self.message!r}, type={self.type.value})"

    def _repr_html_(self) -> str:
        """Notebook display: the name in the state's colour, the message, the result's type.

        A result that is a list with its own ``_repr_html_`` (a ``@flow`` run's task-run
        states) is drawn below, as a table.
        """
        message = "" if self.message is None else f" {html.escape(self.message)}"
        table = (
            getattr(self._result, "_repr_html_", None) if isinstance(self._result, list) else None
        )
        shown = (
            self._result.type_name
            if isinstance(self._result, DeferredResult)
            else type(self._result).__name__
        )
        kind = (
            ""
            if self._result is None or table is not None
            else (f' <span style="color:#757575">(result: {html.escape(shown)})</span>')
        )
        return (
            f'<div class="orchestrator-state">'
            f'<span style="color:{self.color};font-weight:bold">{html.escape(self.name)}</span>'
            f"<span>{message}</span>{kind}{table() if table is not None else ''}</div>"
        )

    def __eq__(self, other: object) -> bool:
        """Equal when class, message and result agree (timestamps are ignored)."""
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, State)
        mine, theirs = self.data, other.data
        try:
            same_result = bool(mine == theirs)
        except Exception:
            same_result = mine is theirs
        return self.message == other.message and same_result and self.name == other.name

    __hash__ = object.__hash__


class Pending(State):
    """Not yet run; also ``NotReady`` when an upstream state dependency failed."""

    __slots__ = ()


class Paused(Pending):
    """Waiting for a person. A flow run returns at once with the task paused; resume it with
    ``flow.run(task_states={**paused.result(), t: Resume()}, start_tasks=[t])``, which reuses
    the finished tasks' results as its inputs."""

    __slots__ = ()

    kind = K.PAUSED
    type = StateType.PAUSED
    color = "#ff9800"


class Scheduled(Pending):
    """Due to run at ``start_time``."""

    __slots__ = ()

    kind = K.SCHEDULED
    type = StateType.SCHEDULED


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


class Cancelled(Finished):
    """Stopped before it finished, on request."""

    __slots__ = ()

    kind = K.CANCELLED
    type = StateType.CANCELLED


ALL_STATE_CLASSES: tuple[type[State], ...] = (
    State, Pending, Paused, Scheduled, Retrying, Resume, Running, Finished, Success,
    Completed, Cached, Mapped, Skipped, Failed, TriggerFailed, TimedOut, Cancelled,
)  # fmt: skip
