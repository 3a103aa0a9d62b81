"""The fields of a state and how they stay fixed: storage, changed copies, refused writes.

A state is a value: once built it never changes. ``StateFields``, the base of every state
class, writes its fields once, in ``__init__`` or in a copy, and refuses every later
write with an ``AttributeError`` that names the copy to make instead:

    new = state.evolve(message="Mapped 3 children.")    # any fields; same class
    new = state.with_result(value)                      # a new result
    new = state.recast(Completed)                       # another class, fields as they are

Layout, chosen for cost (several states are built or copied per task run, on maps of a
million children, and most of them are kept until the flow run ends):

    _result    the result, or a DeferredResult until State.data loads it (its memo)
    _stamp     the time.time() float of creation (a datetime if one was given)
    duration   seconds the body took, or None
    _fields    (message, name, rare): rare is None, or
               (map_states, start_time, run_count, cached_inputs)

Slots are written through the slot descriptors' own setters (``_put_*``), which bypass
the refusing ``__setattr__`` at a C call each; so the fields that rarely differ between
states share one slot, whose tuple is shared too (``_plain_fields``: every Success
"Task run succeeded." of a map holds one), and a state costs no more memory or
garbage-collector work than a plain slotted object. ``timestamp`` makes the datetime.

A user's subclass may add attributes of its own in its ``__init__``
(``taskrun.state_extras``); copies and pickles carry them over.
"""

from __future__ import annotations

import datetime as _dt
import enum
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeAlias, TypeVar

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

_Rare: TypeAlias = "tuple[list[State] | None, _dt.datetime | None, int, dict[str, Any] | None]"
_Fields: TypeAlias = "tuple[str | None, str, _Rare | None]"
_NO_RARE: _Rare = (None, None, 0, None)
#: the fields ``evolve`` takes, in the order error messages list them
FIELDS = (
    "message", "result", "name", "map_states", "start_time", "run_count", "cached_inputs",
    "timestamp", "duration",
)  # fmt: skip

_S = TypeVar("_S", bound="StateFields")


class _Keep(enum.Enum):
    """The default of ``evolve``'s fields: keep this one as it is."""

    KEEP = "KEEP"


KEEP = _Keep.KEEP  # compared with ``is``: a global is faster than the Enum attribute


class StateFields:
    """The fields every state has, written once; see the module docstring."""

    #: slots a user subclass added (set by ``__init_subclass__``)
    _extra_slots: ClassVar[tuple[str, ...]] = ()
    #: whether instances may hold a user subclass's own attributes (slots or a ``__dict__``)
    _carries_extras: ClassVar[bool] = False

    #: the shared ``(message, class name, None)`` tuples of this class, by message
    _plain_fields: ClassVar[dict[str | None, _Fields]] = {}

    __slots__ = ("_fields", "_result", "_stamp", "duration")

    _fields: _Fields
    _result: Any
    _stamp: float | _dt.datetime
    #: seconds the run's body took, set on final task-run states
    duration: float | None

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
        if map_states or run_count or start_time is not None or cached_inputs is not None:
            rare = _pack_rare(map_states, start_time, run_count, cached_inputs)
            fields: _Fields | None = (message, name or type(self).__name__, rare)
        else:
            try:  # the usual case, inline: the shared tuple holding this very message
                fields = type(self)._plain_fields.get(message) if name is None else None
            except TypeError:  # an unhashable message
                fields = None
            if fields is None or fields[0] is not message:
                fields = _fields_of(type(self), message, name, None)
        _put_fields(self, fields)
        _put_result(self, result)
        _put_stamp(self, timestamp or _time())
        _put_duration(self, duration)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._extra_slots = own_slots(cls, StateFields)
        cls._carries_extras = bool(cls._extra_slots) or cls.__dictoffset__ != 0
        cls._plain_fields = {}
        if "__init__" in cls.__dict__:  # it may set its own attributes while it runs
            type.__setattr__(cls, "__init__", open_while_building(cls.__dict__["__init__"]))

    # ---- fields ---------------------------------------------------------------------------
    @property
    def message(self) -> str | None:
        """Why the run is in this state, for people."""
        return self._fields[0]

    @property
    def name(self) -> str:
        """Display name: the class name unless given (``NotReady``, ``Completed``)."""
        return self._fields[1]

    @property
    def timestamp(self) -> _dt.datetime:
        """When the run entered this state."""
        stamp = self._stamp
        if isinstance(stamp, _dt.datetime):
            return stamp
        return _dt.datetime.fromtimestamp(stamp, _UTC)

    @property
    def map_states(self) -> list[State]:
        """Child states of a mapped task, in map-index order (empty for other states)."""
        rare = self._fields[2]
        children = None if rare is None else rare[0]
        return children if children is not None else []

    @property
    def start_time(self) -> _dt.datetime | None:
        """When a Scheduled/Retrying state becomes due."""
        rare = self._fields[2]
        return None if rare is None else rare[1]

    @property
    def run_count(self) -> int:
        """Attempts made so far, carried by Retrying states."""
        rare = self._fields[2]
        return 0 if rare is None else rare[2]

    @property
    def cached_inputs(self) -> dict[str, Any] | None:
        """Inputs a Paused task would have received, reused on resume."""
        rare = self._fields[2]
        return None if rare is None else rare[3]

    # ---- changed copies -------------------------------------------------------------------
    def evolve(
        self,
        *,
        message: str | _Keep | None = KEEP,
        result: Any = KEEP,
        name: str | _Keep | None = KEEP,
        map_states: Sequence[State] | _Keep | None = KEEP,
        start_time: _dt.datetime | _Keep | None = KEEP,
        run_count: int | _Keep = KEEP,
        cached_inputs: dict[str, Any] | _Keep | None = KEEP,
        timestamp: _dt.datetime | _Keep | None = KEEP,
        duration: float | _Keep | None = KEEP,
        **extras: Any,
    ) -> Self:
        """A copy of this state (same class) with the given fields; this state stays as it was.

        Fields not given are carried over as they are, the timestamp included (``None``
        means now, and the class name for ``name``, as in ``__init__``); ``extras`` are a
        user subclass's own attributes.

        Raises:
            TypeError: a keyword that is neither a field nor an attribute of this state.
        """
        fields = self._fields
        if not (map_states is start_time is run_count is cached_inputs is KEEP):
            fields = _changed(
                fields, type(self), message, name, map_states, start_time, run_count, cached_inputs
            )
        elif not (message is name is KEEP):
            message = fields[0] if message is KEEP else message
            fields = _fields_of(type(self), message, fields[1] if name is KEEP else name, fields[2])
        # the executor's hot path (a duration on every outcome): no further call
        clone = _new(type(self))
        _put_fields(clone, fields)
        _put_result(clone, self._result if result is KEEP else result)
        _put_stamp(clone, self._stamp if timestamp is KEEP else timestamp or _time())
        _put_duration(clone, self.duration if duration is KEEP else duration)
        if self._carries_extras or extras:
            _carry_extras(self, clone, extras)
        return clone

    def recast(
        self,
        cls: type[_S],
        *,
        message: str | _Keep | None = KEEP,
        result: Any = KEEP,
        name: str | _Keep | None = KEEP,
        map_states: Sequence[State] | _Keep | None = KEEP,
        start_time: _dt.datetime | _Keep | None = KEEP,
        run_count: int | _Keep = KEEP,
        cached_inputs: dict[str, Any] | _Keep | None = KEEP,
        timestamp: _dt.datetime | _Keep | None = KEEP,
        duration: float | _Keep | None = KEEP,
        **extras: Any,
    ) -> _S:
        """A copy of this state as an instance of ``cls``, every field carried over as is (a
        deferred result is not loaded; ``name`` too) except those given, as in ``evolve``."""
        fields = self._fields
        if not (map_states is start_time is run_count is cached_inputs is KEEP):
            fields = _changed(
                fields, cls, message, name, map_states, start_time, run_count, cached_inputs
            )
        elif not (message is name is KEEP):  # the futures API's Completed, in one call
            message = fields[0] if message is KEEP else message
            fields = _fields_of(cls, message, fields[1] if name is KEEP else name, fields[2])
        clone = _new(cls)  # as in evolve
        _put_fields(clone, fields)
        _put_result(clone, self._result if result is KEEP else result)
        _put_stamp(clone, self._stamp if timestamp is KEEP else timestamp or _time())
        _put_duration(clone, self.duration if duration is KEEP else duration)
        if self._carries_extras or extras:
            _carry_extras(self, clone, extras)
        return clone

    def with_result(self, result: Any) -> Self:
        """A copy of this state holding ``result`` (same class, message, name)."""
        # ``evolve(result=...)`` spelled out: every mapped child's input is one of these
        clone = _new(type(self))
        _put_fields(clone, self._fields)
        _put_result(clone, result)
        _put_stamp(clone, self._stamp)
        _put_duration(clone, self.duration)
        if self._carries_extras:
            copy_extras(self, clone)
        return clone

    def _keep_loaded(self, value: Any) -> None:
        """Replace a deferred result by its loaded value: ``State.data``'s internal memo."""
        _put_result(self, value)

    # ---- writes refused -------------------------------------------------------------------
    def __setattr__(self, name: str, value: object) -> None:
        if id(self) in building and name not in _RESERVED:
            set_attribute(self, name, value)  # a subclass's __init__ adding its own attribute
            return
        raise AttributeError(_refusal(self, name, "set"))

    def __delattr__(self, name: str) -> None:
        raise AttributeError(_refusal(self, name, "delete"))

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (self._fields, self._result, self._stamp, self.duration)
        return (_rebuild, (type(self), fields, extras_of(self) or None))


def _setter(slot: str) -> Callable[[StateFields, Any], None]:
    """The slot's own descriptor setter: it writes without going through ``__setattr__``."""
    setter: Callable[[StateFields, Any], None] = StateFields.__dict__[slot].__set__
    return setter


_put_fields, _put_result = _setter("_fields"), _setter("_result")
_put_stamp, _put_duration = _setter("_stamp"), _setter("duration")
#: how many messages a class keeps a shared fields tuple for (most are a few constants)
_PLAIN_LIMIT = 256
#: names a subclass's __init__ may not set directly: the fields and the slots
_RESERVED = frozenset(FIELDS) | frozenset(StateFields.__slots__)


def _pack_rare(
    map_states: Sequence[State] | None,
    start_time: _dt.datetime | None,
    run_count: int,
    cached_inputs: dict[str, Any] | None,
) -> _Rare | None:
    children = list(map_states) if map_states else None
    if children is None and start_time is None and not run_count and cached_inputs is None:
        return None
    return (children, start_time, run_count, cached_inputs)


def _changed(
    fields: _Fields,
    cls: type[StateFields],
    message: Any,
    name: Any,
    map_states: Any,
    start_time: Any,
    run_count: Any,
    cached_inputs: Any,
) -> _Fields:
    """``fields`` with those that are not ``KEEP`` replaced, as ``__init__`` would set them."""
    rare = fields[2]
    if not (map_states is start_time is run_count is cached_inputs is KEEP):
        kept = rare or _NO_RARE
        rare = _pack_rare(
            kept[0] if map_states is KEEP else map_states,
            kept[1] if start_time is KEEP else start_time,
            kept[2] if run_count is KEEP else run_count,
            kept[3] if cached_inputs is KEEP else cached_inputs,
        )
    return _fields_of(
        cls, fields[0] if message is KEEP else message, fields[1] if name is KEEP else name, rare
    )


def _fields_of(
    cls: type[StateFields], message: str | None, name: str | None, rare: _Rare | None
) -> _Fields:
    """The ``_fields`` tuple of a ``cls`` state: a shared one if it holds these very objects
    (a message equal to a shared one's but another object must stay what it was)."""
    if name is not None and not (type(name) is str and name == cls.__name__):
        return (message, name, rare)  # a name of its own
    name = cls.__name__
    if rare is not None:
        return (message, name, rare)
    plain = cls._plain_fields
    try:
        fields = plain.get(message)
    except TypeError:  # an unhashable message
        return (message, name, None)
    if fields is None or fields[0] is not message:
        fields = (message, name, None)
        if len(plain) < _PLAIN_LIMIT and message not in plain:  # per-run messages stop here
            plain[message] = fields
    return fields


def _carry_extras(state: StateFields, clone: StateFields, extras: dict[str, Any]) -> None:
    """Carry a user subclass's own attributes over to a fresh copy, then write ``extras``
    over them; refuse names that are not attributes of the copy."""
    copy_extras(state, clone)
    known = extras_of(clone)
    for field, value in extras.items():
        if field not in known:
            raise TypeError(
                f"{type(clone).__name__}.evolve() got {field!r}, which is not a field of the "
                f"state; its fields are {', '.join(FIELDS)}."
            )
        set_attribute(clone, field, value)


def _rebuild(
    cls: type[StateFields], fields: tuple[Any, ...], extras: dict[str, Any] | None
) -> StateFields:
    """Unpickle a state (``StateFields.__reduce__``) without running a subclass's
    ``__init__``."""
    state = _new(cls)
    own, result, stamp, duration = fields
    _put_fields(state, _fields_of(cls, *own))
    _put_result(state, result)
    _put_stamp(state, stamp)
    _put_duration(state, duration)
    for name, value in (extras or {}).items():
        set_attribute(state, name, value)
    return state


def _refusal(state: StateFields, name: str, verb: str) -> str:
    """The message of a refused write: states are values; how to make the changed copy."""
    field = "result" if name == "_result" else name
    if field == "result":
        how = "state.with_result(value) or state.evolve(result=value)"
    elif field in FIELDS or field in extras_of(state):
        how = f"state.evolve({field}=...)"
    else:
        how = f"state.evolve(...) ({name!r} is not a field; fields: {', '.join(FIELDS)})"
    return (
        f"Cannot {verb} {name!r} of a {type(state).__name__} state: states are values and "
        f"never change after creation. Make a changed copy instead: new = {how}; "
        "state.recast(OtherStateClass) gives another class."
    )
