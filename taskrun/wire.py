"""The wire format between the orchestrator and whatever executes task runs.

``TaskRunCall`` is everything one task run needs, with upstream results given as
``UpstreamRef`` handles that the task runner resolves to states where the run
executes (in-process, or on a Dask worker so data never visits the orchestrator).
``ResultShape`` is the small metadata the orchestrator needs to expand a mapped
task. ``UpstreamResult`` placeholders inside ``TaskRunCall.templates`` stand for
upstream results nested in argument values (``total([f1, f2])`` in a ``@flow``);
they are filled where the run executes, like the keyed upstream refs. States
cross as msgpack (results inside as cloudpickle bytes).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import msgpack

from taskrun import states as _states
from taskrun.execute import Sleep, execute_task_run


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """Where one upstream edge's state comes from, and which part of it a child takes."""

    #: the edge (its ``key`` names the argument; None orders only)
    edge: Any
    #: task-runner handles: one upstream run, or a mapped parent's children
    sources: tuple[Any, ...]
    #: the sources are a mapped parent's children, seen together
    reduce: bool = False
    #: element of the (concatenated, when ``flattened``) result a mapped child takes
    index: int | None = None
    flattened: bool = False


@dataclass(frozen=True, slots=True)
class UpstreamResult:
    """Placeholder in a template argument: the result of ``call.upstream[index]``."""

    index: int


@dataclass(frozen=True, slots=True)
class TaskRunCall:
    """One task run, ready to execute."""

    task: Any
    #: readable, unique task-run name such as ``add_one-1f2e3d4c-17``
    name: str
    upstream: tuple[UpstreamRef, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    map_index: int | None = None
    run_context: Mapping[str, Any] = field(default_factory=dict)
    initial_state: _states.State | None = None
    is_start_task: bool = False
    #: set for a mapped parent that cannot expand: why, if its checks pass
    mapping_problem: str | None = None
    #: arguments whose values hold ``UpstreamResult`` placeholders (in lists, tuples, sets,
    #: dicts), filled from the upstream results before the run; they join ``inputs``
    templates: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultShape:
    """What the orchestrator learns of a result to expand a mapped task (never the data)."""

    successful: bool
    #: children the result yields, None when it is not mappable
    length: int | None = None
    #: why it is not mappable
    problem: str | None = None


def mapped_length(value: Any, flattened: bool = False) -> int:
    """Children ``value`` yields; raises ``TypeError`` saying why it cannot be mapped."""
    if not is_mappable(value):
        raise TypeError(_not_a_sequence(value))
    if not flattened:
        return len(value)
    return sum(len(item) if is_flattened_list(item) else 1 for item in value)


def element(value: Sequence[Any], index: int, flattened: bool = False) -> Any:
    """The ``index``-th element a child receives (of the concatenation when flattened)."""
    if not flattened:
        return value[index]
    for inner in value:
        if not is_flattened_list(inner):  # a scalar item is a list of one
            if index == 0:
                return inner
            index -= 1
        elif index < len(inner):
            return inner[index]
        else:
            index -= len(inner)
    raise IndexError(index)


def is_mappable(value: Any) -> bool:
    """Sized and indexable, but not a mapping (its order means nothing here). A string maps
    its characters, as in Prefect 1."""
    if type(value) in SCALAR_TYPES or isinstance(value, Mapping):
        return False
    return hasattr(value, "__len__") and hasattr(value, "__getitem__")


def is_flattened_list(item: Any) -> bool:
    """Whether ``flatten`` spreads ``item`` (an item of the flattened value): a sequence,
    but not text; anything else (a scalar, a string) counts as a list of one item."""
    return is_mappable(item) and not isinstance(item, (str, bytes))


def flat_items(value: Sequence[Any]) -> list[Any]:
    """The concatenation ``flatten(value)`` stands for (scalars count as lists of one)."""
    items: list[Any] = []
    for item in value:
        if is_flattened_list(item):
            items.extend(item)
        else:
            items.append(item)
    return items


def shape_of(state: _states.State, flattened: bool = False) -> ResultShape:
    """The mapping metadata of one finished state."""
    if not state.is_successful():
        return ResultShape(False)
    try:
        value = state.read_result(False)
        if not is_mappable(value):  # the usual case of a child's result: said, not raised
            return ResultShape(True, None, _not_a_sequence(value))
        return ResultShape(True, mapped_length(value, flattened))
    except TypeError as err:
        return ResultShape(True, None, str(err))


def reduce_state(
    children: Sequence[_states.State], message: str = "Mapped children finished."
) -> _states.State:
    """The state a reducing downstream sees for a mapped upstream: its children."""
    return _states.Mapped(message, map_states=children)


def resolve_upstream(ref: UpstreamRef, source_states: Sequence[_states.State]) -> _states.State:
    """The state the executor sees for ``ref``, given the states of its sources."""
    state = reduce_state(list(source_states)) if ref.reduce else source_states[0]
    if ref.index is None:
        return state
    value = state.read_result(False)
    return state.with_result(element(value, ref.index, ref.flattened))


def execute_call(
    call: TaskRunCall,
    source_states: Iterable[Sequence[_states.State]],
    sleep: Sleep = time.sleep,
) -> _states.State:
    """Run ``call`` given the states of each upstream ref's sources, in order (read once,
    ref by ref: a runner may build them as they are read)."""
    resolved: list[_states.State] = []
    upstream: dict[Any, _states.State] = {}
    for ref, found in zip(call.upstream, source_states, strict=True):
        state = upstream[ref.edge] = resolve_upstream(ref, found)
        resolved.append(state)
    inputs = call.inputs
    if call.templates:
        results = [state.read_result(False) for state in resolved]
        inputs = {**inputs, **{k: fill_template(v, results) for k, v in call.templates.items()}}
    return execute_task_run(
        call.task,
        upstream,
        inputs=inputs,
        map_index=call.map_index,
        run_context=call.run_context,
        task_run_name=call.name,
        initial_state=call.initial_state,
        is_start_task=call.is_start_task,
        sleep=sleep,
        mapping_problem=call.mapping_problem,
    )


def fill_template(value: Any, results: Sequence[Any]) -> Any:
    """``value`` with every ``UpstreamResult`` replaced by its upstream's result.

    Walks lists, tuples (named ones too), sets and dicts; other values are kept as is.
    """
    if isinstance(value, UpstreamResult):
        return results[value.index]
    if isinstance(value, dict):
        return type(value)({k: fill_template(v, results) for k, v in value.items()})
    if isinstance(value, tuple):
        items = [fill_template(v, results) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, (list, set, frozenset)):
        return type(value)(fill_template(v, results) for v in value)
    return value


# ---- msgpack serialization of states -------------------------------------------------------
def dump_state(state: _states.State, include_result: bool = True) -> bytes:
    """msgpack bytes for ``state``; the result (if included) travels as cloudpickle bytes."""
    packed: bytes = msgpack.packb(_state_record(state, include_result), use_bin_type=True)
    return packed


def load_state(data: bytes) -> _states.State:
    """The state ``dump_state`` wrote."""
    return _from_record(msgpack.unpackb(data, raw=False))


_CLASSES: dict[str, type[_states.State]] = {c.__name__: c for c in _states.ALL_STATE_CLASSES}


def _state_record(state: _states.State, include_result: bool) -> dict[str, Any]:
    return {
        "class": type(state).__name__,
        "name": state.name,
        "message": state.message,
        "result": cloudpickle.dumps(state.data)
        if include_result and state.data is not None
        else None,
        "map_states": [_state_record(s, include_result) for s in state.map_states],
        "start_time": state.start_time.isoformat() if state.start_time else None,
        "run_count": state.run_count,
        "timestamp": state.timestamp.isoformat(),
        "duration": state.duration,
    }


def _parse_time(text: str | None) -> _dt.datetime | None:
    return _dt.datetime.fromisoformat(text) if text else None


def _from_record(record: dict[str, Any]) -> _states.State:
    cls = _CLASSES[record["class"]]
    result = record["result"]
    return cls(
        record["message"],
        cloudpickle.loads(result) if result is not None else None,
        name=record["name"],
        map_states=[_from_record(r) for r in record["map_states"]],
        start_time=_parse_time(record["start_time"]),
        run_count=record["run_count"],
        timestamp=_parse_time(record["timestamp"]),
        duration=record["duration"],
    )


#: types that are never sequences (checked before the ``Mapping`` ABC, which is slow); what
#: most short task runs return, so summaries size and pickle them directly too
SCALAR_TYPES = frozenset({int, float, bool, complex, type(None)})


def _not_a_sequence(value: Any) -> str:
    return f"its value {_short(value)} is not a sequence"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
