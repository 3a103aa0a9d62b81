"""``apply_map``: map a function that builds tasks, not just one task, over its arguments.

``func`` is called once, with task arguments, inside a scratch flow; what it built is then
copied into the target flow, mapped::

    apply_map(func, xs, unmapped(y))        in the target flow, per element of xs:
      func(x, y):                              x[i] ──> is_big[i] ──> case[i] ──> grow[i]
        with case(is_big(x), True):
            grow(x)

- An edge from a mapped argument is a mapped edge (``unmapped(...)`` ones are not, and
  ``flatten(...)`` ones are flattened); an edge between two tasks ``func`` built is a
  mapped edge too, so child ``i`` of one feeds child ``i`` of the next.
- Plain values bound inside ``func`` (``add(x, 1)``) stay constants; edges from a
  ``Parameter`` or ``Constant`` built inside ``func`` are not mapped.
- Every task ``func`` built with no upstream among the tasks it built also waits on each
  mapped argument (mapped), so it runs once per element like the rest, and all mapped
  arguments must have the same length.

The copies are added to the target flow after the scratch flow is closed, so an open
``case`` or resource block around the ``apply_map`` call records them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.dag import active
from orchestrator.dag.collections import COLLECTION_TYPES, Constant
from orchestrator.dag.flow import Flow
from orchestrator.dag.markers import flatten, unmapped
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.task import Dependency, Task

if TYPE_CHECKING:
    from orchestrator.dag.edge import Edge


@dataclass(frozen=True)
class _Argument:
    """How one argument of ``apply_map`` reaches the tasks ``func`` builds."""

    #: each child takes one element (else the whole value)
    mapped: bool
    #: mapped over the concatenation of its lists (``flatten(...)``)
    flattened: bool


def apply_map(func: Callable[..., Any], *args: Any, flow: Flow | None = None, **kwargs: Any) -> Any:
    """Call ``func`` (a function that adds tasks) once per element of the mapped arguments.

    Arguments are mapped over unless wrapped in ``unmapped(...)``; each must be a task or
    a sequence. With ``flow=`` given, ``func`` must accept a ``flow`` keyword (it gets the
    scratch flow it builds in). Returns what ``func`` returns: its tasks, now mapped.

    >>> from orchestrator import Flow, case, task
    >>> from orchestrator.tasks.control_flow import merge
    >>> @task
    ... def inc(x):
    ...     return x + 1
    >>> @task
    ... def is_even(x):
    ...     return x % 2 == 0
    >>> def inc_if_even(x):
    ...     with case(is_even(x), True):
    ...         bigger = inc(x)
    ...     return merge(bigger, x)
    >>> with Flow("apply-map-example") as f:
    ...     result = apply_map(inc_if_even, range(4))
    >>> f.run().result()[result].result()
    [1, 1, 3, 3]

    Raises:
        ValueError: no flow is being built and none is given.
        TypeError: a mapped argument is neither a task nor a sequence.
    """
    target = flow or active.building_flow.get()
    if target is None:
        raise ValueError(
            f"apply_map({_name(func)}, ...) adds tasks to a flow, but no flow is being "
            "built. Call it inside `with Flow('name'):` or pass flow=..."
        )
    arguments: dict[Task, _Argument] = {}
    call_args = [_prepare(target, func, f"argument {i}", a, arguments) for i, a in enumerate(args)]
    call_kwargs = {
        k: _prepare(target, func, f"argument {k!r}", v, arguments) for k, v in kwargs.items()
    }
    scratch = Flow(f"apply_map({_name(func)})")
    blocks = active.recording_blocks.set(())  # blocks around the call record the copies
    try:
        with scratch:
            if flow is None:
                returned = func(*call_args, **call_kwargs)
            else:
                returned = func(*call_args, flow=scratch, **call_kwargs)
    finally:
        active.recording_blocks.reset(blocks)
    _copy_mapped(scratch, target, arguments)
    return returned


def _prepare(
    target: Flow, func: Callable[..., Any], label: str, raw: Any, arguments: dict[Task, _Argument]
) -> Any:
    """What ``func`` receives for ``raw``; records the tasks standing for arguments."""
    is_mapped = not isinstance(raw, unmapped)
    is_flat = isinstance(raw, flatten)
    value = raw.value if isinstance(raw, (unmapped, flatten)) else raw
    is_taskish = isinstance(value, (Task, Dependency, dict, *COLLECTION_TYPES)) and _has_task(value)
    if not is_mapped and not is_taskish:
        return value  # a constant every child shares, as it is
    if is_mapped and not is_taskish and not isinstance(value, Sequence):
        raise TypeError(
            f"apply_map({_name(func)}): {label} is {value!r}, which cannot be mapped over "
            "(a task or a sequence is needed). Wrap it in unmapped(...) if every call "
            "should get it whole."
        )
    task = target.as_task(value) if is_taskish else Constant(value)
    arguments[task] = _Argument(mapped=is_mapped, flattened=is_flat)
    return task


def _has_task(value: Any) -> bool:
    """Whether ``value`` is, or is a collection holding, a task or ``Dependency``."""
    if isinstance(value, (Task, Dependency)):
        return True
    if isinstance(value, dict):
        return any(_has_task(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_task(v) for v in value)
    return False


def _copy_mapped(scratch: Flow, target: Flow, arguments: dict[Task, _Argument]) -> None:
    """Copy the tasks, constants and edges of ``scratch`` into ``target``, mapped."""
    built = [t for t in scratch.get_tasks() if t not in arguments]
    for task in built:
        target.add_task(task)
        if task in scratch.constants:
            target.constants[task] = dict(scratch.constants[task])
    position = {t: i for i, t in enumerate(scratch.get_tasks())}
    for edge in sorted(scratch.edges, key=lambda e: position[e.downstream_task]):
        mapped, flattened = _edge_mapping(edge, arguments)
        target.add_edge(
            edge.upstream_task, edge.downstream_task, edge.key, mapped=mapped, flattened=flattened
        )
    new = set(built)
    for task in built:
        if isinstance(task, Parameter):
            continue  # a parameter is a root: it runs once, unmapped
        upstream = target.upstream_tasks(task)
        if upstream & new:
            continue
        for argument, how in arguments.items():
            if argument not in upstream:
                target.add_edge(argument, task, mapped=how.mapped, flattened=how.flattened)
    for argument in arguments:  # the scratch flow, now gone, claimed the ones it saw
        if argument in target.tasks:
            argument._flow_ref = weakref.ref(target)


def _edge_mapping(edge: Edge, arguments: dict[Task, _Argument]) -> tuple[bool, bool]:
    """(mapped, flattened) for ``edge`` of the scratch flow, copied into the target."""
    upstream = edge.upstream_task
    how = arguments.get(upstream)
    if how is not None:
        return how.mapped, how.flattened or edge.flattened
    if isinstance(upstream, (Parameter, Constant)):
        return edge.mapped, edge.flattened
    return True, edge.flattened


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__name__", repr(func))
