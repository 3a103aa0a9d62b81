"""The functions a Dask worker executes for the orchestrator.

Every Dask task the ``DaskTaskRunner`` submits calls one of these module-level
functions (shippable by reference, no closures):

- ``run_one``: one task run. Dask resolves its upstream futures worker to worker; the
  function points each upstream ref at its states, runs ``execute_call`` (trigger,
  retries, timeout, signals, handlers, context) and returns the final ``State``. The
  state, result inside, stays in worker memory as the Dask task's value; the
  orchestrator gets a summary through the worker's ``Outbox``.
- ``run_batch``: several mapped children in one Dask task, each run exactly as
  ``run_one`` would run it (own state, retries, map index, logs, live state); returns
  the list of their states.
- ``take_slice``: a few elements of a big upstream result, cut where it lives, so each
  mapped child receives its element and not the whole list.
- ``flat_shape``, ``pick_result``, ``summaries``: small questions about a state that
  lives on the cluster (mapping metadata, one child's result, a lost summary).

Retry delays secede from the worker's thread pool (``distributed.secede``), so a
waiting retry holds no worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import distributed
from distributed import get_worker

from taskrun.dask import records as summary
from taskrun.dask.batch_plan import BatchPlan
from taskrun.dask.outbox import Outbox, active_run, outbox_for
from taskrun.dask.shipping import RunPlan, Shipped, WireRef, cut, source_states
from taskrun.logs import stamp_logger, task_logger
from taskrun.states import Failed, State
from taskrun.wire import ResultShape, TaskRunCall, UpstreamRef, execute_call, shape_of


def run_one(
    task: Shipped, run_context: Shipped, topic: str, plan: Sequence[Any], args: Sequence[Any]
) -> State:
    """Run one task run (its ``RunPlan`` came as a plain tuple); returns its state (kept by
    Dask as this task's value)."""
    return _run_plans(task, run_context, topic, (RunPlan._make(plan),), args)[0]


def run_batch(
    task: Shipped, run_context: Shipped, topic: str, plans: BatchPlan, args: Sequence[Any]
) -> list[State]:
    """Run a batch of mapped children one after another; returns their states in order."""
    return _run_plans(task, run_context, topic, plans, args)


def _run_plans(
    shipped_task: Shipped,
    shipped_context: Shipped,
    topic: str,
    plans: Iterable[RunPlan],
    args: Sequence[Any],
) -> list[State]:
    outbox = outbox_for(get_worker())
    try:
        task = shipped_task.load()
        keys = shipped_context.load()
    except Exception as err:  # boundary: the task runs fail, saying why; the worker goes on
        return [_not_loaded(plan, err, outbox, topic) for plan in plans]
    stamp_logger(task_logger(task.name))
    token = active_run.set((outbox, topic))
    try:
        return [_run_plan(task, keys, plan, args, outbox, topic) for plan in plans]
    finally:
        active_run.reset(token)


def _run_plan(
    task: Any, keys: Any, plan: RunPlan, args: Sequence[Any], outbox: Outbox, topic: str
) -> State:
    outbox.put(topic, summary.running(plan.key, plan.position))
    started = time.perf_counter()
    try:
        refs = [WireRef._make(ref) for ref in plan.refs]
        sources = [source_states(ref, args) for ref in refs]
        upstream = tuple(_readable(ref, found) for ref, found in zip(refs, sources, strict=True))
    except Exception as err:  # boundary: the run fails, the worker goes on
        state: State = Failed(
            f"Task run {plan.name!r} could not receive its upstream states on "
            f"the worker: {err!r}. This is a bug in the orchestrator, please "
            "report it.",
            err,
        )
    else:
        call = TaskRunCall(
            task=task,
            name=plan.name,
            upstream=upstream,
            inputs=plan.inputs,
            map_index=plan.map_index,
            run_context=keys,
            initial_state=plan.initial_state,
            is_start_task=plan.is_start_task,
            mapping_problem=plan.mapping_problem,
            templates=plan.templates,
        )
        state = execute_call(call, sources, sleep=_SecedingSleep(outbox, topic, plan))
    state, record = summary.summarize(
        plan.key,
        plan.position,
        plan.name,
        state,
        plan.inline_limit,
        time.perf_counter() - started,
        _sizeof,
    )
    if state.is_failed() and isinstance(state.data, BaseException):
        record = summary.attach_traceback(record, state.data)
    outbox.put(topic, record)
    return state


def _not_loaded(plan: RunPlan, error: Exception, outbox: Outbox, topic: str) -> State:
    message = (
        f"Task run {plan.name!r} could not be loaded on the Dask worker: "
        f"{type(error).__name__}: {error}. Workers need the packages and modules the task "
        "uses: install them where the workers run, or define the task in a module they "
        "can import."
    )
    state, record = summary.summarize(
        plan.key, plan.position, plan.name, Failed(message, error), plan.inline_limit, 0.0, _sizeof
    )
    outbox.put(topic, record)
    return state


def _readable(ref: WireRef, found: Sequence[State]) -> UpstreamRef:
    """The executor's ref for ``ref``; it does not pick an element out of an upstream that
    did not succeed (the trigger then sees that upstream's state as it is)."""
    if ref.item is not None and not all(state.is_successful() for state in found):
        return UpstreamRef(ref.edge, (), ref.reduce)
    return UpstreamRef(ref.edge, (), ref.reduce, ref.item, ref.flattened)


#: leave / rejoin the worker's thread pool (typed aliases of distributed's functions)
_secede: Callable[[], None] = distributed.secede
_rejoin: Callable[[], None] = distributed.rejoin


class _SecedingSleep:
    """A retry delay that gives the worker thread back to Dask while it waits."""

    def __init__(self, outbox: Outbox, topic: str, plan: RunPlan) -> None:
        self.outbox, self.topic, self.plan = outbox, topic, plan

    def __call__(self, seconds: float) -> None:
        plan = self.plan
        message = f"Task run {plan.name!r} retries in {seconds:g} seconds."
        self.outbox.put(self.topic, summary.retrying(plan.key, plan.position, message, seconds, 0))
        _secede()
        try:
            time.sleep(seconds)
        finally:
            _rejoin()
        self.outbox.put(self.topic, summary.running(plan.key, plan.position))


def take_slice(
    position: int | None, start: int, stop: int, flattened: bool, args: Sequence[Any]
) -> State:
    """The state in ``args[0]`` (a batch member's, given ``position``) holding only elements
    ``start:stop`` of its result (of the concatenation of its lists when ``flattened``)."""
    state: State = args[0] if position is None else args[0][position]
    if not state.is_successful():
        return state
    return state.with_result(cut(state.data, start, stop, flattened))


def flat_shape(value: Any, position: int | None = None, flattened: bool = True) -> ResultShape:
    """The mapping shape of a task run's result (of a batch member's, given ``position``)."""
    return shape_of(value if position is None else value[position], flattened)


def pick_result(value: Any, position: int | None = None) -> Any:
    """The result of a task run's state (or of one member of a batch's states)."""
    state = value if position is None else value[position]
    return state.data


def summaries(
    value: Any, key: str, positions: Sequence[int | None], names: Sequence[str], inline_limit: int
) -> list[tuple[Any, ...]]:
    """Final records of a finished Dask task, again (for a summary lost on its way), as the
    plain tuples an event carries."""
    records = []
    for position, name in zip(positions, names, strict=True):
        state = value if position is None else value[position]
        _, record = summary.summarize(key, position, name, state, inline_limit, 0.0, _sizeof)
        records.append(tuple(record))
    return records


def _sizeof(value: Any) -> int:
    from dask.sizeof import sizeof

    return int(sizeof(value))
