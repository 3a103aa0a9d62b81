"""A user subclass's own attributes on a state: when they may be set, how copies keep them.

States are values (``taskrun.state_fields``), and a user's subclass of one may add
attributes of its own, in its own slots or in a ``__dict__``:

    class Reviewed(Success):
        def __init__(self, *args, reviewer="nobody", **kwargs):
            super().__init__(*args, **kwargs)
            self.reviewer = reviewer          # allowed: Reviewed.__init__ is running

Such a class gets a refusing ``__setattr__`` (the library's classes, which have no
``__dict__``, need none). While its ``__init__`` runs, the state's id is in ``building``
and names that are not State fields may be set; afterwards they are as fixed as the rest.
``evolve``, ``recast``, ``with_result`` and pickling carry them over (``extras_of``); for
the library's classes that is one class-attribute read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskrun.state_fields import StateFields

#: writes a user subclass's own attribute, past the refusing ``__setattr__``
set_attribute = object.__setattr__

#: ids of user-subclass states whose own ``__init__`` is running: they may add attributes
building: set[int] = set()


def own_slots(cls: type, base: type) -> tuple[str, ...]:
    """The slots ``cls`` and its bases below ``base`` declare (not ``__dict__``)."""
    slots: list[str] = []
    for klass in cls.__mro__[: cls.__mro__.index(base)]:
        declared = klass.__dict__.get("__slots__", ())
        slots += [declared] if isinstance(declared, str) else list(declared)
    return tuple(s for s in slots if s not in ("__dict__", "__weakref__"))


def open_while_building(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a subclass's ``__init__`` so that it may set its own attributes."""

    @functools.wraps(init)
    def build(self: StateFields, *args: Any, **kwargs: Any) -> None:
        key = id(self)
        if key in building:  # a subclass's __init__ calling its parent's
            init(self, *args, **kwargs)
            return
        building.add(key)
        try:
            init(self, *args, **kwargs)
        finally:
            building.discard(key)

    return build


def extras_of(state: StateFields) -> dict[str, Any]:
    """A user subclass's own attributes of ``state`` (empty for the library's classes)."""
    if not state._carries_extras:
        return {}
    found = {s: getattr(state, s) for s in type(state)._extra_slots if hasattr(state, s)}
    found.update(getattr(state, "__dict__", {}))
    return found


def copy_extras(source: StateFields, clone: StateFields) -> None:
    """Carry a user subclass's own attributes over, as far as ``clone``'s class holds them."""
    target = type(clone)
    for name, value in extras_of(source).items():
        if name in target._extra_slots or target.__dictoffset__ != 0:
            set_attribute(clone, name, value)
