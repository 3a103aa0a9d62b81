"""The functions a Dask worker executes for the orchestrator.

Every Dask task the ``DaskTaskRunner`` submits calls one of these module-level
functions (shippable by reference, no closures):

- ``run_one``: one task run. Dask resolves its upstream futures worker to worker; the
  function points each upstream ref at its states, runs ``execute_call`` (trigger,
  retries, timeout, signals, handlers, context) and returns the final ``State``. The
  state stays in worker memory as the Dask task's value; the orchestrator gets a
  summary through the worker's ``Outbox``, sealed with the run's ``Channel`` secret.
- ``run_batch``: several mapped children in one Dask task, each run exactly as
  ``run_one`` would run it (own state, retries, map index, logs, live state); returns
  their states, a ``StateBatch``.
- ``take_slice``: a few elements of a big upstream result, cut where it lives, so each
  mapped child receives its element and not the whole list.
- ``flat_shape``, ``pick_result``, ``summaries``: small questions about a state that
  lives on the cluster (mapping metadata, one child's result, a lost summary).

The state a Dask task keeps holds its result in an ``InlineResult``
(``taskrun.dask.pickled``): the value itself here, pickled only when Dask moves it, and
unpickled by whoever reads it. So a result that cannot be rebuilt on another worker
fails the downstream task run that reads it, with a message naming the upstream, instead
of Dask's transfer (which would wait for it forever). Readers get copies of the states
Dask holds (``readable``): loading a result never changes the value Dask keeps. Dask
measures these values with ``taskrun.dask.sizes``.

``run_one`` and ``run_batch`` are coroutine functions: Dask runs them on the worker's
event loop, and they run their task runs' attempts in the worker's thread pool. A retry
delay is awaited on the event loop (``taskrun.dask.retry_waits``), so a waiting retry
holds no thread, and a batch's other children do not wait behind it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Sequence
from typing import Any

from dask.sizeof import sizeof as dask_sizeof
from distributed import get_worker

from taskrun.dask import records as summary
from taskrun.dask.batch_plan import BatchPlan
from taskrun.dask.outbox import Outbox, active_run, outbox_for
from taskrun.dask.pickled import InlineResult, ResultNotLoadableError
from taskrun.dask.retry_waits import Waiting, run_waiting
from taskrun.dask.sealing import Channel, seal
from taskrun.dask.shipping import RunPlan, Shipped, WireRef, cut, source_states
from taskrun.dask.sizes import StateBatch
from taskrun.deferred_result import DeferredResult
from taskrun.execute import Sleep
from taskrun.logs import stamp_logger, task_logger
from taskrun.retries import SINGLE_PASS, RetryLater
from taskrun.run_collector import young_collections_rare
from taskrun.states import Failed, State
from taskrun.warm_up import take_warm_up
from taskrun.wire import ResultShape, TaskRunCall, UpstreamRef, execute_call, shape_of


async def run_one(
    task: Shipped, run_context: Shipped, channel: Channel, plan: Sequence[Any], args: Sequence[Any]
) -> State:
    """Run one task run (its ``RunPlan`` came as a plain tuple); returns its state (kept by
    Dask as this task's value)."""
    one = RunPlan._make(plan)
    return (await _run_plans(one.key, task, run_context, channel, (one,), args))[0]


async def run_batch(
    task: Shipped, run_context: Shipped, channel: Channel, plans: BatchPlan, args: Sequence[Any]
) -> StateBatch:
    """Run a batch of mapped children one after another; returns their states in order."""
    return StateBatch(await _run_plans(plans.key, task, run_context, channel, plans, args))


async def _run_plans(
    key: str,
    shipped_task: Shipped,
    shipped_context: Shipped,
    channel: Channel,
    plans: Iterable[RunPlan],
    args: Sequence[Any],
) -> list[State]:
    """The plans' task runs, attempts in the worker's thread pool, retry waits here."""
    worker = get_worker()
    outbox = outbox_for(worker)
    start = functools.partial(
        _start_plans, shipped_task, shipped_context, outbox, channel, plans, args
    )
    resume = functools.partial(resume_plans, outbox, channel)
    return await run_waiting(worker, key, start, resume)


def _start_plans(
    shipped_task: Shipped,
    shipped_context: Shipped,
    outbox: Outbox,
    channel: Channel,
    plans: Iterable[RunPlan],
    args: Sequence[Any],
) -> list[State | Waiting]:
    """The first attempts of every plan's task run (worker thread)."""
    try:
        task = shipped_task.load()
        keys = shipped_context.load()
    except Exception as err:  # boundary: the task runs fail, saying why; the worker goes on
        return [not_loaded(plan, err, outbox, channel) for plan in plans]
    stamp_logger(task_logger(task.name))
    args = tuple(readable(arg) for arg in args)  # once per Dask task, shared by its plans
    token = active_run.set((outbox, channel))
    try:
        with young_collections_rare():  # a batch's children make and keep many objects
            return [
                run_plan(task, keys, plan, position, args, outbox, channel)
                for position, plan in enumerate(plans)
            ]
    finally:
        active_run.reset(token)


def resume_plans(outbox: Outbox, channel: Channel, due: list[Waiting]) -> list[State | Waiting]:
    """The next attempts of task runs whose retry delay is over (worker thread)."""
    token = active_run.set((outbox, channel))
    try:
        return [_resume_plan(waiting, outbox, channel) for waiting in due]
    finally:
        active_run.reset(token)


def run_plan(
    task: Any,
    keys: Any,
    plan: RunPlan,
    position: int,
    args: Sequence[Any],
    outbox: Outbox,
    channel: Channel,
) -> State | Waiting:
    outbox.put(channel, summary.running(plan.key, plan.position))
    started = time.perf_counter()
    take_warm_up()  # what an earlier run of this thread left uncounted is not this one's
    try:
        refs = [WireRef._make(ref) for ref in plan.refs]
        sources = [source_states(ref, args) for ref in refs]
        _load_results(sources)
        upstream = tuple(_ref_for(ref, found) for ref, found in zip(refs, sources, strict=True))
    except ResultNotLoadableError as err:  # an upstream result that cannot be read here
        state: State = _unreadable(plan.name, err)
    except Exception as err:  # boundary: the run fails, the worker goes on
        state = Failed(
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
        later = RetryLater()
        # a single pass (FlowRunner.run) ends a run to retry in its Retrying state
        state = _execute(call, sources, SINGLE_PASS if keys.get("single_pass") else later)
        if later.is_waiting:
            return _waiting(plan, position, later, state, started, outbox, channel)
    return _finish(plan, state, started, outbox, channel)


def _resume_plan(waiting: Waiting, outbox: Outbox, channel: Channel) -> State | Waiting:
    plan, later = waiting.plan, waiting.later
    outbox.put(channel, summary.running(plan.key, plan.position))
    state = _loadable(plan.name, later.resume())  # resume() turns any error into a state
    if later.is_waiting:
        return _waiting(plan, waiting.position, later, state, waiting.started, outbox, channel)
    return _finish(plan, state, waiting.started, outbox, channel)


def _waiting(
    plan: RunPlan,
    position: int,
    later: RetryLater,
    state: State,
    started: float,
    outbox: Outbox,
    channel: Channel,
) -> Waiting:
    """The run waits ``later.delay`` seconds for its next attempt; the orchestrator sees it
    ``Retrying``."""
    message = f"Task run {plan.name!r} retries in {later.delay:g} seconds."
    record = summary.retrying(plan.key, plan.position, message, later.delay, state.run_count)
    outbox.put(channel, record)
    return Waiting(position, plan, later, time.monotonic() + later.delay, started)


def _finish(plan: RunPlan, state: State, started: float, outbox: Outbox, channel: Channel) -> State:
    """The final state Dask keeps, its summary sent."""
    state, record = summary.summarize(
        plan.key,
        plan.position,
        plan.name,
        state,
        plan.inline_limit,
        time.perf_counter() - started - take_warm_up(),  # batching's measure (warm_up)
        _sizeof,
    )
    error = state._result
    if state.is_failed() and isinstance(error, BaseException):
        record = summary.attach_traceback(record, error)
    outbox.put(channel, record)
    return _kept(state, plan.name)


def _execute(call: TaskRunCall, sources: Sequence[Sequence[State]], later: Sleep) -> State:
    """``execute_call``; a result it could not unpickle (a failed upstream's error read by
    a template or a trigger, cached inputs) fails the run saying whose."""
    try:
        state = execute_call(call, sources, sleep=later)
    except ResultNotLoadableError as err:
        return _unreadable(call.name, err)
    return _loadable(call.name, state)


def _loadable(name: str, state: State) -> State:
    error = state._result
    if state.is_failed() and type(error) is ResultNotLoadableError:
        return _unreadable(name, error)  # the executor saw it as its own error
    return state


def _unreadable(name: str, error: ResultNotLoadableError) -> State:
    if error.task_run == name:
        message = (
            f"Task run {name!r} could not load its {error.what} on its Dask worker: {error.cause}."
        )
    else:
        message = (
            f"Task run {name!r} could not load the result of its upstream task run "
            f"{error.task_run!r} on its Dask worker: {error.cause}. Workers need what a "
            "result refers to (the same packages and modules) to read it."
        )
    return Failed(message, error)


#: result types kept as they are: unpickling them cannot fail, and they are cheap to copy
_PLAIN = frozenset({int, float, complex, str, bytes, bool, type(None)})


def _kept(state: State, task_run: str) -> State:
    """The state Dask keeps: its result in an ``InlineResult`` (see the module docstring)."""
    value = state._result
    if type(value) in _PLAIN or isinstance(value, DeferredResult):
        return state
    return state.with_result(InlineResult.holding(value, task_run))


def readable(arg: Any) -> Any:
    """A Dask task argument (a state, or a batch's states) whose results readers may load:
    copies of the states Dask holds, sharing their holders."""
    if isinstance(arg, State):
        return _readable_state(arg)
    if isinstance(arg, list) and any(type(s._result) is InlineResult for s in arg):
        return [_readable_state(s) for s in arg]
    return arg


def _readable_state(state: State) -> State:
    return state.with_result(state._result) if type(state._result) is InlineResult else state


def _load_results(sources: Sequence[Sequence[State]]) -> None:
    """Unpickle the results of successful upstream states (a failure names the upstream);
    a failed upstream's error is loaded only if something reads it."""
    for found in sources:
        for state in found:
            held = state._result
            if type(held) is InlineResult and state.is_successful():
                held.load()


def not_loaded(plan: RunPlan, error: Exception, outbox: Outbox, channel: Channel) -> State:
    message = (
        f"Task run {plan.name!r} could not be loaded on the Dask worker: "
        f"{type(error).__name__}: {error}. Workers need the packages and modules the task "
        "uses: install them where the workers run, or define the task in a module they "
        "can import."
    )
    state, record = summary.summarize(
        plan.key, plan.position, plan.name, Failed(message, error), plan.inline_limit, 0.0, _sizeof
    )
    outbox.put(channel, record)
    return _kept(state, plan.name)


def _ref_for(ref: WireRef, found: Sequence[State]) -> UpstreamRef:
    """The executor's ref for ``ref``; it does not pick an element out of an upstream that
    did not succeed (the trigger then sees that upstream's state as it is)."""
    if ref.item is not None and not all(state.is_successful() for state in found):
        return UpstreamRef(ref.edge, (), ref.reduce)
    return UpstreamRef(ref.edge, (), ref.reduce, ref.item, ref.flattened)


def take_slice(
    position: int | None, start: int, stop: int, flattened: bool, args: Sequence[Any]
) -> State:
    """The state in ``args[0]`` (a batch member's, given ``position``) holding only elements
    ``start:stop`` of its result (of the concatenation of its lists when ``flattened``).

    A result that cannot be unpickled here is passed on whole: the children that read it
    fail, naming it."""
    state: State = args[0] if position is None else args[0][position]
    if not state.is_successful():
        return state
    held = state._result
    try:
        value = held.load() if isinstance(held, InlineResult) else held
    except ResultNotLoadableError:
        return state
    task_run = held.task_run if isinstance(held, InlineResult) else "?"
    return state.with_result(InlineResult.holding(cut(value, start, stop, flattened), task_run))


def flat_shape(value: Any, position: int | None = None, flattened: bool = True) -> ResultShape:
    """The mapping shape of a task run's result (of a batch member's, given ``position``)."""
    return shape_of(_readable_state(value if position is None else value[position]), flattened)


def pick_result(value: Any, position: int | None = None) -> Any:
    """The result of a task run's state (or of one member of a batch's states), still in its
    ``InlineResult``: it travels pickled, and the orchestrator unpickles it when read."""
    state: State = value if position is None else value[position]
    return state._result


def summaries(
    value: Any,
    key: str,
    positions: Sequence[int | None],
    names: Sequence[str],
    inline_limit: int,
    channel: Channel,
) -> dict[str, bytes]:
    """Final records of a finished Dask task, again (for a summary lost on its way), sealed
    as an event message."""
    records = []
    for position, name in zip(positions, names, strict=True):
        state = _readable_state(value if position is None else value[position])
        _, record = summary.summarize(key, position, name, state, inline_limit, 0.0, _sizeof)
        records.append(tuple(record))
    return seal(channel.secret, get_worker().address, records)


def _sizeof(value: Any) -> int:
    return int(dask_sizeof(value))
