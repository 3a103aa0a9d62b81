"""The fields of a state and how they stay fixed: read-only fields, changed copies.

A state is a value: once built it never changes. Each field is a read-only property over
a private slot (``message`` reads ``_message``); assigning or deleting it raises an
``AttributeError`` that names the copy to make instead, and a state has no ``__dict__``,
so no attribute can be added either:

    new = state.evolve(message="Mapped 3 children.")    # any fields; same class
    new = state.with_result(value)                      # a new result
    new = state.recast(Completed)                       # another class, fields as they are

The private slots are written by ``__init__``, the copies below, ``State.data``'s memo
and ``taskrun.state_fresh`` (the same writes as ``__init__``), nothing else; other
modules may read ``_result`` (the result as stored, a deferred one not loaded). Why
properties, not a refusing ``__setattr__``: with one, every write in ``__init__`` and in
a copy has to go around it (a C call through the slot descriptor instead of a plain
store), and several states are built per task run, on maps of a million children: that
cost about 5% of a task run end to end, properties nothing measurable. For the same
reason the timestamp is kept as the ``time.time()`` float it was taken as; the
``timestamp`` property makes the ``datetime`` when it is read.

A user's subclass may add attributes of its own in its ``__init__``; such a class gets a
refusing ``__setattr__`` that lets them be set only while that runs
(``taskrun.state_extras``), and copies and pickles carry them over.
"""

from __future__ import annotations

import datetime as _dt
import enum
import time
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar

from taskrun.state_extras import (
    building,
    copy_extras,
    extras_of,
    open_while_building,
    own_slots,
    set_attribute,
)

if TYPE_CHECKING:
    from taskrun.states import State

_time = time.time
_UTC = _dt.UTC
_new = object.__new__

#: the fields ``evolve`` takes, in the order error messages list them
FIELDS = (
    "message", "result", "name", "map_states", "start_time", "run_count", "cached_inputs",
    "timestamp", "duration", "context",
)  # fmt: skip
#: the private slots, in ``FIELDS`` order (``_stamp`` holds the timestamp)
STORAGE = (
    "_message", "_result", "_name", "_map_states", "_start_time", "_run_count",
    "_cached_inputs", "_stamp", "_duration", "_context",
)  # fmt: skip
#: what ``context`` reads on a state built without one (read-only, so one serves all)
_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})

_S = TypeVar("_S", bound="StateFields")
_T_co = TypeVar("_T_co", covariant=True)


class _ReadOnly(Protocol[_T_co]):
    """How a field reads for the type checker: a value of ``_T_co``, never assigned."""

    def __get__(self, instance: object, owner: type | None = None) -> _T_co: ...


def _read_only(field: str, doc: str, getter: Callable[[Any], Any] | None = None) -> Any:
    """A property reading ``getter`` (the slot ``_<field>``) whose set and delete refuse."""

    def refuse_set(state: StateFields, value: object) -> None:
        raise AttributeError(_refusal(state, field, "set"))

    def refuse_delete(state: StateFields) -> None:
        raise AttributeError(_refusal(state, field, "delete"))

    # attrgetter is C: a read costs a plain attribute read plus one C call
    return property(getter or attrgetter(f"_{field}"), refuse_set, refuse_delete, doc)


class _Keep(enum.Enum):
    """The default of ``evolve``'s fields: keep this one as it is."""

    KEEP = "KEEP"


KEEP = _Keep.KEEP  # compared with ``is``: a global is faster than the Enum attribute


def _timestamp_of(state: StateFields) -> _dt.datetime:
    stamp = state._stamp
    return stamp if isinstance(stamp, _dt.datetime) else _dt.datetime.fromtimestamp(stamp, _UTC)


def _start_time_of(state: StateFields) -> _dt.datetime | None:
    # only the scheduled family carries a start time (a recast copy may still hold one)
    return state._start_time if state._takes_start_time else None


def _context_of(state: StateFields) -> Mapping[str, Any]:
    context = state._context
    return _NO_CONTEXT if context is None else MappingProxyType(context)


def _children_of(state: StateFields) -> list[State]:
    children = state._map_states
    return children if children is not None else []


class StateFields:
    """The fields every state has, written once; see the module docstring."""

    #: slots a user subclass added (set by ``__init_subclass__``)
    _extra_slots: ClassVar[tuple[str, ...]] = ()
    #: whether instances may hold a user subclass's own attributes (slots or a ``__dict__``)
    _carries_extras: ClassVar[bool] = False
    #: whether the class is of the scheduled family, the one that carries ``start_time``
    _takes_start_time: ClassVar[bool] = False

    __slots__ = STORAGE

    message: _ReadOnly[str | None] = _read_only("message", "Why the run is in this state.")
    name: _ReadOnly[str] = _read_only("name", "Display name: the class's unless given.")
    map_states: _ReadOnly[list[State]] = _read_only(
        "map_states", "A mapped task's child states, by map index (else empty).", _children_of
    )
    start_time: _ReadOnly[_dt.datetime | None] = _read_only(
        "start_time", "When a scheduled state becomes due (None for the others).", _start_time_of
    )
    run_count: _ReadOnly[int] = _read_only("run_count", "Attempts made, on Retrying states.")
    cached_inputs: _ReadOnly[dict[str, Any] | None] = _read_only(
        "cached_inputs", "Inputs a Paused task would have received, reused on resume."
    )
    timestamp: _ReadOnly[_dt.datetime] = _read_only(
        "timestamp", "When the run entered this state.", _timestamp_of
    )
    duration: _ReadOnly[float | None] = _read_only(
        "duration", "Seconds the run's body took, on final task-run states."
    )
    context: _ReadOnly[Mapping[str, Any]] = _read_only(
        "context",
        "Facts about the run kept with the state (tags, task_run_count, ...); "
        "read-only, empty unless given.",
        _context_of,
    )

    _message: str | None
    _result: Any
    _name: str
    _map_states: list[State] | None
    _start_time: _dt.datetime | None
    _run_count: int
    _cached_inputs: dict[str, Any] | None
    _stamp: float | _dt.datetime
    _duration: float | None
    _context: dict[str, Any] | None

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
        context: Mapping[str, Any] | None = None,
    ) -> None:
        if start_time is not None and not self._takes_start_time:
            raise TypeError(_no_start_time(self))
        self._message = message
        self._result = result
        self._name = name or type(self).__name__
        self._map_states = list(map_states) if map_states else None
        self._start_time = start_time
        self._run_count = run_count
        self._cached_inputs = cached_inputs
        self._stamp = timestamp or _time()
        self._duration = duration
        self._context = dict(context) if context else None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._extra_slots = own_slots(cls, StateFields)
        cls._carries_extras = bool(cls._extra_slots) or cls.__dictoffset__ != 0
        if cls._carries_extras:  # its own attributes are fixed too, once its __init__ ran
            type.__setattr__(cls, "__setattr__", _refuse_but_storage)
            type.__setattr__(cls, "__delattr__", _refuse_delete)
            if "__init__" in cls.__dict__:
                type.__setattr__(cls, "__init__", open_while_building(cls.__dict__["__init__"]))

    # ---- changed copies -------------------------------------------------------------------
    # Fields are not keyword-only: CPython fills each missing keyword-only default with a
    # dict lookup, 40 ns per call on the executor's path. Pass them by keyword all the same.
    def evolve(
        self,
        message: str | _Keep | None = KEEP,
        result: Any = KEEP,
        name: str | _Keep | None = KEEP,
        map_states: Sequence[State] | _Keep | None = KEEP,
        start_time: _dt.datetime | _Keep | None = KEEP,
        run_count: int | _Keep = KEEP,
        cached_inputs: dict[str, Any] | _Keep | None = KEEP,
        timestamp: _dt.datetime | _Keep | None = KEEP,
        duration: float | _Keep | None = KEEP,
        context: Mapping[str, Any] | _Keep | None = KEEP,
        **extras: Any,
    ) -> Self:
        """A copy of this state (same class) with the given fields; this state stays as it was.

        Fields not given are carried over as they are, the timestamp included (``None``
        means now, and the class name for ``name``, as in ``__init__``); ``extras`` are a
        user subclass's own attributes.

        Raises:
            TypeError: a keyword that is neither a field nor an attribute of this state.
        """
        if extras or self._carries_extras or map_states is not KEEP or context is not KEEP:
            return _derive(
                self, type(self), message, result, name, map_states, start_time, run_count,
                cached_inputs, timestamp, duration, context, extras,
            )  # fmt: skip
        # _derive spelled out: the executor makes one of these per task run (its duration)
        clone = _new(type(self))
        clone._message = self._message if message is KEEP else message
        clone._result = self._result if result is KEEP else result
        clone._name = self._name if name is KEEP else name or type(self).__name__
        clone._map_states = self._map_states
        clone._start_time = self._start_time if start_time is KEEP else start_time
        clone._run_count = self._run_count if run_count is KEEP else run_count
        clone._cached_inputs = self._cached_inputs if cached_inputs is KEEP else cached_inputs
        clone._stamp = self._stamp if timestamp is KEEP else timestamp or _time()
        clone._duration = self._duration if duration is KEEP else duration
        clone._context = self._context
        return clone

    def recast(
        self,
        cls: type[_S],
        message: str | _Keep | None = KEEP,
        result: Any = KEEP,
        name: str | _Keep | None = KEEP,
        map_states: Sequence[State] | _Keep | None = KEEP,
        start_time: _dt.datetime | _Keep | None = KEEP,
        run_count: int | _Keep = KEEP,
        cached_inputs: dict[str, Any] | _Keep | None = KEEP,
        timestamp: _dt.datetime | _Keep | None = KEEP,
        duration: float | _Keep | None = KEEP,
        context: Mapping[str, Any] | _Keep | None = KEEP,
        **extras: Any,
    ) -> _S:
        """A copy of this state as an instance of ``cls``, every field carried over as is (a
        deferred result is not loaded; ``name`` too) except those given, as in ``evolve``."""
        return _derive(
            self, cls, message, result, name, map_states, start_time, run_count,
            cached_inputs, timestamp, duration, context, extras,
        )  # fmt: skip

    def with_result(self, result: Any) -> Self:
        """A copy of this state holding ``result`` (same class, message, name)."""
        # ``evolve(result=...)`` spelled out: every mapped child's input is one of these
        clone = _new(type(self))
        clone._message = self._message
        clone._result = result
        clone._name = self._name
        clone._map_states = self._map_states
        clone._start_time = self._start_time
        clone._run_count = self._run_count
        clone._cached_inputs = self._cached_inputs
        clone._stamp = self._stamp
        clone._duration = self._duration
        clone._context = self._context
        if self._carries_extras:
            copy_extras(self, clone)
        return clone

    def __reduce__(self) -> tuple[Any, ...]:
        fields = tuple(getattr(self, slot) for slot in STORAGE)
        return (_rebuild, (type(self), fields, extras_of(self) or None))


def _derive(
    state: StateFields,
    cls: type[_S],
    message: Any,
    result: Any,
    name: Any,
    map_states: Any,
    start_time: Any,
    run_count: Any,
    cached_inputs: Any,
    timestamp: Any,
    duration: Any,
    context: Any,
    extras: dict[str, Any],
) -> _S:
    """The copy ``evolve`` and ``recast`` make: ``state``'s fields, as a ``cls``, except
    those that are not ``KEEP``, written as ``__init__`` would write them."""
    clone: _S = _new(cls)
    clone._message = state._message if message is KEEP else message
    clone._result = state._result if result is KEEP else result
    clone._name = state._name if name is KEEP else name or cls.__name__
    if map_states is KEEP:
        clone._map_states = state._map_states
    else:
        clone._map_states = list(map_states) if map_states else None
    clone._start_time = state._start_time if start_time is KEEP else start_time
    clone._run_count = state._run_count if run_count is KEEP else run_count
    clone._cached_inputs = state._cached_inputs if cached_inputs is KEEP else cached_inputs
    clone._stamp = state._stamp if timestamp is KEEP else timestamp or _time()
    clone._duration = state._duration if duration is KEEP else duration
    clone._context = state._context if context is KEEP else (dict(context) if context else None)
    if state._carries_extras or extras:
        copy_extras(state, clone)
        known = extras_of(clone)
        for field, value in extras.items():
            if field not in known:
                raise TypeError(
                    f"{cls.__name__}.evolve() got {field!r}, which is not a field of the "
                    f"state; its fields are {', '.join(FIELDS)}."
                )
            set_attribute(clone, field, value)
    return clone


def _rebuild(
    cls: type[StateFields], fields: tuple[Any, ...], extras: dict[str, Any] | None
) -> StateFields:
    """Unpickle a state (``StateFields.__reduce__``) without running a subclass's
    ``__init__``."""
    state = _new(cls)
    for slot, value in zip(STORAGE, fields, strict=True):
        set_attribute(state, slot, value)
    for name, value in (extras or {}).items():
        set_attribute(state, name, value)
    return state


#: names a user subclass's __init__ may not set itself: the fields and their slots
_RESERVED = frozenset(FIELDS) | frozenset(STORAGE)
_OWN_STORAGE = frozenset(STORAGE)


def _refuse_but_storage(state: StateFields, name: str, value: object) -> None:
    """``__setattr__`` of a user subclass with attributes of its own: only this module's
    writes of the slots, and its ``__init__`` adding its attributes, go through."""
    if name in _OWN_STORAGE or (id(state) in building and name not in _RESERVED):
        set_attribute(state, name, value)
        return
    raise AttributeError(_refusal(state, name, "set"))


def _no_start_time(state: StateFields) -> str:
    return (
        f"{type(state).__name__}() takes no start_time: only the scheduled states (Scheduled, "
        "Retrying, Resume, Paused) carry one, e.g. Retrying(start_time=when)."
    )


def _refuse_delete(state: StateFields, name: str) -> None:
    raise AttributeError(_refusal(state, name, "delete"))


def _refusal(state: StateFields, name: str, verb: str) -> str:
    """The message of a refused write: states are values; how to make the changed copy."""
    if name in ("result", "_result"):
        how = "state.with_result(value) or state.evolve(result=value)"
    elif name in FIELDS or name in extras_of(state):
        how = f"state.evolve({name}=...)"
    else:
        how = f"state.evolve(...) ({name!r} is not a field; fields: {', '.join(FIELDS)})"
    return (
        f"Cannot {verb} {name!r} of a {type(state).__name__} state: states are values and "
        f"never change after creation. Make a changed copy instead: new = {how}; "
        "state.recast(OtherStateClass) gives another class."
    )
