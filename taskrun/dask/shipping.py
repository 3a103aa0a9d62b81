"""What the Dask task runner ships to a worker for each task run, in few bytes.

A task, and a flow run's context keys, are cloudpickled once per runner session on
the orchestrator and travel as ``Shipped`` bytes; each worker process unpickles a
token once and keeps the object in a small LRU cache, so a map over 100,000 children
pickles and unpickles its task once, not 100,000 times.

Each task run travels as a ``RunPlan``: its name, map index, constant inputs, and a
``WireRef`` per upstream edge whose *pointers* say where each upstream state sits
among the Dask task's arguments::

    run_one(task, context, topic, plan, args)       args = (state, batch, state, ...)
                                                    pointer 0        -> args[0]
                                                    pointer (1, 7)   -> args[1][7]
                                                    pointer (1, 0, 5) -> args[1][0:5]

An argument is an upstream task run's state (a Dask future Dask resolved on the
worker, or a state the orchestrator sent along) or a batch: the list of states a
batch of mapped children returned. Edges travel as ``WireEdge`` labels, never as the
orchestrator's ``Edge`` objects (those hold whole upstream tasks).
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import cloudpickle

from taskrun.states import State
from taskrun.wire import is_flattened_list

#: where one upstream state sits among a Dask task's arguments
Pointer = int | tuple[int, int] | tuple[int, int, int]

_CACHE_SIZE = 256
_cache: OrderedDict[str, Any] = OrderedDict()
_cache_lock = threading.Lock()


class Shipped:
    """An object cloudpickled once on the orchestrator; ``load()`` unpickles once per process.

    A copy of another shipped object (a task copied into a flow: same function, another
    slug) travels as that ``base`` plus the attributes that differ, a few dozen bytes.
    """

    __slots__ = ("base", "blob", "token")

    def __init__(self, token: str, blob: bytes, base: Shipped | None = None) -> None:
        #: unique per pickled object and runner session
        self.token = token
        #: the pickled object, or (with a ``base``) the attributes it changes
        self.blob = blob
        self.base = base

    def load(self) -> Any:
        """The object, from this process's cache when another run already unpickled it."""
        with _cache_lock:
            if self.token in _cache:
                _cache.move_to_end(self.token)
                return _cache[self.token]
        if self.base is None:
            value = cloudpickle.loads(self.blob)
        else:
            value = copy.copy(self.base.load())
            value.__dict__.update(cloudpickle.loads(self.blob))
        with _cache_lock:
            _cache[self.token] = value
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (Shipped, (self.token, self.blob, self.base))

    def __repr__(self) -> str:
        return f"<Shipped {self.token} ({len(self.blob)} bytes)>"


class TaskLabel:
    """Stands for an upstream task on the worker: its name (what trigger messages show)."""

    __slots__ = ("name", "slug")

    def __init__(self, name: str, slug: str | None = None) -> None:
        self.name = name
        self.slug = slug or name

    def __reduce__(self) -> tuple[Any, ...]:
        return (TaskLabel, (self.name, self.slug))

    def __repr__(self) -> str:
        return f"<Task: {self.name}>"


class WireEdge:
    """An upstream edge as a worker sees it; hashed by identity, like a ``FutureEdge``."""

    __slots__ = ("flattened", "key", "mapped", "members", "upstream_task")

    def __init__(
        self,
        upstream_task: Any,
        key: str | None,
        mapped: bool = False,
        flattened: bool = False,
        members: Sequence[str] | None = None,
    ) -> None:
        #: a ``TaskLabel`` (DAG flows) or the upstream task-run name (``@flow`` runs)
        self.upstream_task = upstream_task
        #: the argument the upstream result fills; None when the edge only orders
        self.key = key
        self.mapped = mapped
        self.flattened = flattened
        #: one label per upstream run when the edge gathers several (``flatten_upstream``)
        self.members = members

    def __reduce__(self) -> tuple[Any, ...]:
        return (WireEdge, (self.upstream_task, self.key, self.mapped, self.flattened, self.members))

    def __repr__(self) -> str:
        name = getattr(self.upstream_task, "name", self.upstream_task)
        return f"<Edge: {name}{f' -[{self.key}]->' if self.key else ' ->'}>"


def wire_edge(edge: Any) -> WireEdge:
    """The label of an orchestrator ``Edge`` or ``FutureEdge`` (or any object with a key)."""
    upstream = getattr(edge, "upstream_task", None)
    if upstream is not None and not isinstance(upstream, str):
        upstream = TaskLabel(
            str(getattr(upstream, "name", upstream)), getattr(upstream, "slug", None)
        )
    return WireEdge(
        upstream if upstream is not None else repr(edge),
        getattr(edge, "key", None),
        bool(getattr(edge, "mapped", False)),
        bool(getattr(edge, "flattened", False)),
        getattr(edge, "members", None),
    )


class WireRef(NamedTuple):
    """One upstream ref of a task run, its sources given as pointers into the arguments."""

    edge: WireEdge
    pointers: tuple[Pointer, ...]
    reduce: bool = False
    #: the element a mapped child takes (``UpstreamRef.index``)
    item: int | None = None
    flattened: bool = False


class RunPlan(NamedTuple):
    """One task run inside a Dask task (a Dask task runs one plan, or a batch of them).

    Plans (and their refs) travel as plain tuples in this field order -- pickle handles
    those without a Python call per object, which matters at 100,000 children per level;
    ``RunPlan._make`` / ``WireRef._make`` name the fields again on the worker.
    """

    #: the Dask key of the Dask task that runs this plan
    key: str
    #: place in its batch; None when the Dask task runs this plan alone
    position: int | None
    #: task-run name, e.g. ``add_one-1f2e3d4c-17``
    name: str
    map_index: int | None
    #: one ``WireRef`` per upstream edge, as its plain tuple
    refs: tuple[tuple[Any, ...], ...]
    inputs: Mapping[str, Any]
    templates: Mapping[str, Any]
    initial_state: State | None
    is_start_task: bool
    mapping_problem: str | None
    #: results up to this many pickled bytes travel back with the state's summary
    inline_limit: int


def rekeyed(plan: Sequence[Any], key: str, alone: bool = False) -> tuple[Any, ...]:
    """A plan moved to the Dask task ``key`` (of its own, out of its batch, when ``alone``),
    as the plain tuple plans travel as."""
    named = RunPlan._make(plan)
    moved = named._replace(key=key, position=None) if alone else named._replace(key=key)
    return tuple(moved)


def cut(value: Sequence[Any], start: int, stop: int, flattened: bool = False) -> list[Any]:
    """Elements ``start:stop`` of ``value`` (of the concatenation of its lists when
    ``flattened``); like slicing, it stops early at the end."""
    if not flattened:
        return list(value[start:stop])
    items: list[Any] = []
    offset = 0
    for item in value:
        inner = item if is_flattened_list(item) else (item,)  # a scalar is a list of one
        end = offset + len(inner)
        if end > start and offset < stop:
            items.extend(inner[max(0, start - offset) : stop - offset])
        if end >= stop:
            break
        offset = end
    return items


def source_states(ref: WireRef, args: Sequence[Any]) -> list[State]:
    """The upstream states ``ref`` points at among the resolved arguments."""
    states: list[State] = []
    for pointer in ref.pointers:
        if isinstance(pointer, int):
            states.append(args[pointer])
        elif len(pointer) == 2:
            states.append(args[pointer[0]][pointer[1]])
        else:
            states.extend(args[pointer[0]][pointer[1] : pointer[2]])
    return states
