"""Pure scheduling decisions for DAG flow runs: no I/O, no Dask.

- ``check_parameters``: the run's parameters against the flow's ``Parameter`` tasks (names,
  then each value converted to its parameter's type).
- ``upstream_refs``: which upstream handles (and which element of them) a task run
  or a mapped child receives.
- ``decide_flow_state``: the flow run's final state from its task states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestrator.dag.edge import Edge
from orchestrator.dag.parameter import Parameter
from orchestrator.dag.parameter_types import convert_values
from orchestrator.dag.task import Task
from orchestrator.errors import ParameterError
from orchestrator.runs.run_options import parameters_dict
from taskrun.states import Cancelled, Failed, Paused, Pending, State, Success
from taskrun.triggers import flatten_upstream
from taskrun.wire import UpstreamRef

#: a task's handle, or the handles of a mapped task's children
Handles = Any


def check_parameters(
    flow_name: str,
    declared: Iterable[Parameter],
    given: Mapping[str, Any] | None,
    texts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The parameter values of a run, each given one converted to its parameter's type.

    Raises ``ParameterError`` before anything runs (``ParameterTypeError`` for a value that
    does not fit its type; ``RunOptionError`` when ``given`` is not a mapping of names).
    ``texts`` are command-line values as typed, tried when their JSON reading does not fit.
    """
    given = parameters_dict(flow_name, given)
    by_name = {p.name: p for p in declared}
    unknown = [name for name in given if name not in by_name]
    missing = [name for name, p in by_name.items() if p.required and name not in given]
    if unknown or missing:
        raise ParameterError(flow_name, missing=missing, unknown=unknown, known=list(by_name))
    types = {name: getattr(p, "value_type", None) for name, p in by_name.items()}
    converted = convert_values(flow_name, types, given, texts)
    return {name: converted.get(name, p.default) for name, p in by_name.items()}


def upstream_refs(
    edges: Sequence[Edge], handles: Mapping[Task, Handles], map_index: int | None = None
) -> tuple[UpstreamRef, ...]:
    """Upstream refs for one task run; ``map_index`` selects a mapped child's share."""
    if not edges:
        return ()
    if map_index is not None:
        return ChildRefs(edges, handles).refs(map_index)
    refs = []
    for edge in edges:
        source = handles[edge.upstream_task]
        children = isinstance(source, list)
        refs.append(UpstreamRef(edge, tuple(source) if children else (source,), reduce=children))
    return tuple(refs)


class ChildRefs:
    """``upstream_refs`` of a mapped task's children, worked out once for all of them: the
    children share the refs of unmapped edges and the source tuples of mapped ones, so a
    child costs one new ref per mapped edge (and a backend sees the same tuple each time)."""

    __slots__ = ("parts",)

    def __init__(self, edges: Sequence[Edge], handles: Mapping[Task, Handles]) -> None:
        #: per edge: the shared ref (unmapped edges), or the edge and its sources
        self.parts: list[tuple[UpstreamRef | None, Edge, Any, tuple[Any, ...]]] = []
        for edge in edges:
            source = handles[edge.upstream_task]
            children = isinstance(source, list)
            sources = tuple(source) if children else (source,)
            shared = None if edge.mapped else UpstreamRef(edge, sources, reduce=children)
            self.parts.append((shared, edge, source if children else None, sources))

    def refs(self, map_index: int) -> tuple[UpstreamRef, ...]:
        refs = []
        for shared, edge, children, sources in self.parts:
            if shared is not None:
                refs.append(shared)
            elif children is not None and not edge.flattened:
                refs.append(UpstreamRef(edge, (children[map_index],)))
            else:
                refs.append(
                    UpstreamRef(
                        edge,
                        sources,
                        reduce=children is not None,
                        index=map_index,
                        flattened=edge.flattened,
                    )
                )
        return tuple(refs)


def decide_flow_state(
    states: Mapping[Task, State],
    reference_tasks: Iterable[Task],
    returned: Mapping[Task, State],
    terminal_tasks: Iterable[Task] | None = None,
) -> State:
    """The flow run's state once its pass is over.

    The rule, in order:

    1. Failed when a reference task failed, even while another task waits paused (a paused
       run must not hide a failure; the message names the paused tasks too, and the
       finished states are kept, so resuming works as for a paused run).
    2. Paused (a task waits to be resumed) or Pending while a terminal task is unfinished.
    3. Cancelled when a reference task was cancelled: a cancelled run never counts as a
       success.
    4. Success when every reference task succeeded.

    Tasks that were not part of the run (upstream of its start tasks, with no state given)
    do not keep it open.

    Args:
        terminal_tasks: the tasks whose being finished ends the run (default: all).
    """
    ends = states.keys() if terminal_tasks is None else set(terminal_tasks) | set(reference_tasks)
    unfinished = [(t, states[t]) for t in ends if t in states and not _all_finished(states[t])]
    paused = sorted(t.name for t, s in states.items() if _any_paused(s)) if unfinished else []
    reference: dict[Any, State] = {t: states[t] for t in reference_tasks if t in states}
    failed = sorted({_name(e) for e, s in flatten_upstream(reference) if s.is_failed()})
    if failed:
        also = f" Paused: {', '.join(map(repr, paused))}." if paused else ""
        return Failed(
            f"Some reference tasks failed: {', '.join(map(repr, failed))}.{also}", dict(returned)
        )
    if paused:
        shown = ", ".join(map(repr, paused))
        return Paused(
            f"Flow run paused: {shown} paused. Resume with flow.run(task_states="
            "{**paused_flow_state.result(), task: Resume()}, start_tasks=[task]) "
            "so the finished tasks' results are reused.",
            dict(returned),
        )
    if unfinished:
        names = sorted(t.name for t, _ in unfinished)
        return Pending(
            f"Flow run incomplete: {', '.join(map(repr, names))} did not finish.", dict(returned)
        )
    cancelled = sorted({_name(e) for e, s in flatten_upstream(reference) if s.is_cancelled()})
    if cancelled:
        return Cancelled(
            f"Some reference tasks were cancelled: {', '.join(map(repr, cancelled))}.",
            dict(returned),
        )
    return Success("All reference tasks succeeded.", dict(returned))


def _all_finished(state: State) -> bool:
    return state.is_finished() and all(_all_finished(c) for c in state.map_states)


def _any_paused(state: State) -> bool:
    return state.is_paused() or any(_any_paused(c) for c in state.map_states)


def _name(task: Any) -> str:
    return str(getattr(task, "name", task))
