"""How a task call inside a running ``@flow`` becomes task-run calls for the task runner.

The arguments of ``add(x=future, ys=[f1, 2], wait_for=[g])`` are sorted into:

    a future (or a state) as an argument     -> upstream ref with the argument as its key
    futures nested in lists/tuples/sets/dicts -> ordering refs + a template the runner fills
    wait_for=[...] futures                    -> ordering refs (state dependency only)
    anything else                             -> constant inputs

so the task runner resolves upstream results where the run executes (on a Dask
worker, never in this process). ``task.map(...)`` expands to one child per element of
its mapped arguments; mapping over a future waits for that future's *length* only.
Everything here is plain data except the three runner questions passed in as
``Resolve`` (a handle for a future or state) and ``Measure`` (a result's shape).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.dag.markers import flatten, unmapped
from orchestrator.runs.futures import Future
from orchestrator.runs.mapping import constant_length, count_children, shape_problem
from taskrun.name_runs import compact_names
from taskrun.states import State
from taskrun.wire import ResultShape, UpstreamRef, UpstreamResult, element

#: (runner handle, upstream task-run name) for a future or state used as an input
Resolve = Callable[[Any], tuple[Any, str]]
#: the shape of the result behind a handle (blocks until that run is over)
Measure = Callable[[Any, bool], ResultShape]

_CONTAINERS = (list, tuple, set, frozenset, dict)


@dataclass(frozen=True, eq=False, slots=True)
class FutureEdge:
    """An upstream edge of a ``@flow`` task run; hashed by identity, so two futures of one
    task stay two edges. ``upstream_task`` is the upstream task-run name (what trigger
    messages show)."""

    upstream_task: str
    #: the argument the upstream result fills; None for ordering (wait_for, templates)
    key: str | None = None
    mapped: bool = False
    flattened: bool = False
    #: for an edge gathering a list of futures: each one's task-run name, in order
    members: Sequence[str] | None = None


@dataclass
class CallParts:
    """What one task run receives: upstream refs, constant inputs, templates."""

    refs: list[UpstreamRef] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Element:
    """A mapped child's share of a future's result: item ``index`` of it."""

    handle: Any
    name: str
    index: int
    flattened: bool


_INPUT_FUTURES = (Future, State)


def is_input_future(value: Any) -> bool:
    """Futures and states passed as arguments are data dependencies."""
    return isinstance(value, _INPUT_FUTURES)


def contains_future(value: Any) -> bool:
    """Whether a plain container holds a future or state, at any depth."""
    if is_input_future(value):
        return True
    if type(value) in _CONTAINERS or _is_namedtuple(value):
        items = value.values() if isinstance(value, dict) else value
        return any(contains_future(item) for item in items)
    return False


def call_parts(
    arguments: Mapping[str, Any],
    wait_for: Any,
    task_name: str,
    resolve: Resolve,
    gather: bool = False,
) -> CallParts:
    """Sort one task run's arguments (values may be ``_Element`` shares of a map).

    With ``gather`` (the task's trigger sees upstream runs only flattened), a list of
    futures becomes one ref over all of them instead of one ref each: a gather of 100,000
    futures then ships a few pointers to a Dask worker, not 100,000 refs.
    """
    parts = CallParts()
    for name, value in arguments.items():
        kind = type(value)
        if kind is _Element:
            edge = FutureEdge(value.name, name, mapped=True, flattened=value.flattened)
            parts.refs.append(
                UpstreamRef(edge, (value.handle,), index=value.index, flattened=value.flattened)
            )
        elif isinstance(value, _INPUT_FUTURES):
            handle, upstream = resolve(value)
            parts.refs.append(UpstreamRef(FutureEdge(upstream, name), (handle,)))
        elif (kind in _CONTAINERS or _is_namedtuple(value)) and contains_future(value):
            parts.templates[name] = _template(value, parts.refs, resolve, gather)
        else:
            parts.inputs[name] = value
    if wait_for is not None:
        for item in wait_for_items(wait_for, task_name):
            handle, upstream = resolve(item)
            parts.refs.append(UpstreamRef(FutureEdge(upstream), (handle,)))
    return parts


def wait_for_items(wait_for: Any, task_name: str) -> list[Any]:
    """The futures of ``wait_for`` (one future or an iterable of them)."""
    if wait_for is None:
        return []
    items = [wait_for] if is_input_future(wait_for) else wait_for
    try:
        items = list(items)
    except TypeError:
        items = [items]
    bad = [item for item in items if not is_input_future(item)]
    if bad:
        raise TypeError(
            f"Task {task_name!r}: wait_for takes futures (what calling a task in a "
            f"@flow returns) or states, got {bad!r}. Write "
            f"{task_name}(..., wait_for=[other_future])."
        )
    return items


def _template(value: Any, refs: list[UpstreamRef], resolve: Resolve, gather: bool) -> Any:
    """``value`` with each future replaced by an ``UpstreamResult`` of a new ordering ref
    (a whole list of futures by one, when ``gather``)."""
    if is_input_future(value):
        handle, upstream = resolve(value)
        refs.append(UpstreamRef(FutureEdge(upstream), (handle,)))
        return UpstreamResult(len(refs) - 1)
    if (
        gather
        and type(value) is list
        and len(value) > 1
        and all(isinstance(item, _INPUT_FUTURES) for item in value)
    ):
        return _gathered(value, refs, resolve)
    if isinstance(value, dict):
        return {k: _template(v, refs, resolve, gather) for k, v in value.items()}
    if _is_namedtuple(value):
        return type(value)(*(_template(v, refs, resolve, gather) for v in value))
    if type(value) in _CONTAINERS:
        return type(value)(_template(v, refs, resolve, gather) for v in value)
    return value


def _gathered(futures: list[Any], refs: list[UpstreamRef], resolve: Resolve) -> UpstreamResult:
    """One ref over a list of futures: the run sees them as a mapped parent's children
    (its result is the list of their results), each named in trigger messages."""
    handles, names = [], []
    for future in futures:
        handle, name = resolve(future)
        handles.append(handle)
        names.append(name)
    label = f"{names[0]} .. {names[-1]} ({len(names)} task runs)"
    members = compact_names(names)  # a map's children: one run, not a million strings
    refs.append(UpstreamRef(FutureEdge(label, members=members), tuple(handles), reduce=True))
    return UpstreamResult(len(refs) - 1)


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


# ---- mapping ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _MappedFuture:
    """A future whose result a map spreads over its children."""

    handle: Any
    name: str
    flattened: bool


@dataclass
class Expansion:
    """A mapped call: ``count`` children whose arguments ``child(index)`` builds on demand
    (a map over a million elements never holds a million argument dicts), or why the call
    cannot expand."""

    count: int = 0
    #: the call's arguments; mapped ones are replaced by ``sources`` element by element
    arguments: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, Any] = field(default_factory=dict)
    #: the mapped future that failed or is not a sequence, and why
    problem: str | None = None
    #: the future behind ``problem`` (the one child it yields depends on it)
    culprit: Any = None

    def child(self, index: int) -> dict[str, Any]:
        """The arguments of child ``index``: one element of each mapped argument."""
        child = {}
        for name, raw in self.arguments.items():
            if isinstance(raw, unmapped):
                child[name] = raw.value
                continue
            source = self.sources[name]
            if isinstance(source, _MappedFuture):
                child[name] = _Element(source.handle, source.name, index, source.flattened)
            else:
                child[name] = element(source, index, isinstance(raw, flatten))
        return child


def expand(
    task_name: str, arguments: Mapping[str, Any], resolve: Resolve, measure: Measure
) -> Expansion:
    """Measure the mapped arguments: children zip them, stopping at the shortest (as in DAG
    flows); unmapped arguments go to every child whole.

    Raises:
        MappingError: no argument is mapped, or a constant mapped argument is not a sequence.
    """
    lengths: dict[str, int] = {}
    sources: dict[str, Any] = {}
    for name, raw in arguments.items():
        if isinstance(raw, unmapped):
            continue
        flattened = isinstance(raw, flatten)
        value = raw.value if flattened else raw
        if is_input_future(value):
            handle, upstream = resolve(value)
            shape = measure(handle, flattened)
            problem = shape_problem(task_name, name, f"task run {upstream!r}", [shape])
            if problem is not None:
                return Expansion(problem=problem, culprit=value)
            lengths[name] = shape.length or 0
            sources[name] = _MappedFuture(handle, upstream, flattened)
            continue
        lengths[name] = constant_length(task_name, name, value, flattened)
        sources[name] = value
    return Expansion(count_children(task_name, lengths), arguments, sources)


def check_required(task: Any, arguments: Mapping[str, Any]) -> None:
    """A call missing a required argument fails at the call, naming the task."""
    missing = [
        name
        for name, p in task.signature.parameters.items()
        if p.default is inspect.Parameter.empty
        and name not in arguments
        and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ]
    if missing:
        raise TypeError(
            f"Task {task.name!r}: missing required arguments {missing}. Its run() "
            f"signature is {task.signature}."
        )


def listed_futures(wait_for: Any) -> list[Any]:
    """``wait_for`` as a list (one future or state, several, or None)."""
    if wait_for is None:
        return []
    return [wait_for] if is_input_future(wait_for) else list(wait_for)
