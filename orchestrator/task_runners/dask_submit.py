"""Turning ``TaskRunCall`` objects into Dask tasks: the Dask runner's hot path.

For each call (or each mapped level, in one ``client.map``):

1. ship the task and the flow run's context keys once per session (``Shipped`` bytes,
   cloudpickled here, so an unpicklable task or argument fails *its* task run with a
   message naming the object, and nothing else);
2. point every upstream ref at Dask task arguments (``_Arguments``): the upstream's Dask
   future when it is on the cluster (Dask moves the data worker to worker), or its
   final state when this process has it (given states, small results);
3. give mapped children their element without shipping the whole list: cut from a
   result this process holds, or by a ``take_slice`` Dask task that runs where the
   result lives (``_Slicer``);
4. submit ``run_one`` (one task run) or ``run_batch`` (several mapped children), with
   readable keys and the task's Dask resources.

Mapped levels are batched (``batching``): a probe measures the children first when
their duration is unknown. Nothing here waits for a task run except that probe.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestrator.task_runners import batching
from orchestrator.task_runners.dask_handles import RUNNING, DaskHandle, DaskResult, Submitted
from orchestrator.task_runners.dask_keys import (
    ResourceTagError,
    batch_key,
    resources_from_tags,
    run_token,
    slice_key,
    task_run_key,
)
from orchestrator.task_runners.dask_pickling import UnpicklableError, check_value, dumps, dumps_task
from orchestrator.task_runners.dask_repair import argument
from orchestrator.task_runners.dask_session import DaskSession
from workers import dask_entry
from workers.batch_plan import BatchPlan
from workers.shipping import Pointer, Shipped, WireEdge, cut, wire_edge
from workers.states import Failed, State
from workers.wire import TaskRunCall, UpstreamRef

logger = logging.getLogger("orchestrator.DaskTaskRunner")

_MISSING = object()
#: pickled bytes a mapped level's results may bring back with their summaries, in all
LEVEL_INLINE_BUDGET = 64 << 20
#: ... but each child may bring at least this much (numbers, short strings)
MIN_CHILD_INLINE = 1 << 10
#: elements per slice of a big upstream result, for unbatched children
_SLICES_PER_THREAD = 4


class Submitter:
    """Submits task runs of one session to Dask (see the module docstring). Not thread-safe:
    one flow-run thread submits."""

    def __init__(self, session: DaskSession, inline_limit: int, threads: Any) -> None:
        self.session = session
        self.inline_limit = inline_limit
        self.threads = threads  # () -> total worker threads
        self._tasks: dict[int, tuple[Any, Shipped | UnpicklableError | ResourceTagError,
                                     dict[str, Any]]] = {}
        self._contexts: list[tuple[Mapping[str, Any], Shipped, str]] = []
        self._checked: dict[int, tuple[Any, UnpicklableError | None]] = {}
        self._edges: dict[int, tuple[Any, WireEdge]] = {}
        self._lengths: dict[int, tuple[Any, list[int]]] = {}
        self._tokens = itertools.count()

    # ---- public ---------------------------------------------------------------------------
    def submit(self, call: TaskRunCall) -> DaskHandle:
        """One task run as one Dask task."""
        return self._submit_singles([call], self.inline_limit, _Slicer(self, 1))[0]

    def submit_many(self, calls: Sequence[TaskRunCall]) -> list[DaskHandle]:
        """Many task runs; consecutive children of one mapped task go in one submission,
        batched unless the task's ``batch_size`` is 1. ``calls`` may build each call when
        read: each is read once, in order (the children of one task are not scanned)."""
        if not len(calls):
            return []
        if _one_mapped_task(calls):
            return self._submit_level(calls)
        handles: list[DaskHandle] = []
        start = 0
        while start < len(calls):
            stop = start + 1
            first = calls[start]
            while (stop < len(calls) and first.map_index is not None
                   and calls[stop].task is first.task and calls[stop].map_index is not None):
                stop += 1
            group = calls[start:stop]
            handles.extend(self._submit_level(group) if len(group) > 1 else [self.submit(first)])
            start = stop
        return handles

    # ---- a mapped level ----------------------------------------------------------------------
    def _submit_level(self, calls: Sequence[TaskRunCall]) -> list[DaskHandle]:
        count = len(calls)
        first = calls[0]
        limit = max(MIN_CHILD_INLINE, min(self.inline_limit, LEVEL_INLINE_BUDGET // count))
        threads = max(1, int(self.threads()))
        task_id = task_identity(first.task)
        decision = batching.decide(count, threads, getattr(first.task, "batch_size", None),
                                   self.session.estimates.get(task_id))
        handles: list[DaskHandle] = []
        done = 0
        if decision.probe:
            probe = self._submit_singles([calls[i] for i in range(decision.probe)], limit,
                                         _Slicer(self, 1))
            handles.extend(probe)
            done = decision.probe
            seconds = self._measure_probe(probe)
            size = batching.batch_size_for(count - done, threads, seconds) if seconds else 1
        else:
            size = decision.size or 1
        rest = (calls[i] for i in range(done, count))
        if size == 1:
            chunk = max(1, -(-count // (_SLICES_PER_THREAD * threads)))
            handles.extend(self._submit_singles(rest, limit, _Slicer(self, chunk)))
        elif done < count:
            handles.extend(self._submit_batches(rest, size, limit, task_id))
        return handles

    def _measure_probe(self, probe: Sequence[DaskHandle]) -> float | None:
        """Seconds per child, from the probe's summaries (see ``batching``)."""
        running_since: dict[int, float] = {}
        session = self.session
        while True:
            now = time.monotonic()
            finished = [h.record[14] for h in probe if h.record is not None]
            for h in probe:
                if h.live is RUNNING and id(h) not in running_since:
                    running_since[id(h)] = now
            running = [now - t for t in running_since.values()]
            if finished or all(h.is_final for h in probe):
                return batching.estimate_from_probe(finished, running)
            estimate = batching.estimate_from_probe([], running)
            if estimate is not None:
                return estimate
            if any(h.submitted is not None and h.submitted.future is not None
                   and h.submitted.future.status in ("error", "cancelled") for h in probe):
                return None
            with session.cond:
                session.cond.wait(0.01)

    # ---- singles and batches ---------------------------------------------------------------------
    def _submit_singles(self, calls: Iterable[TaskRunCall], limit: int,
                        slicer: _Slicer) -> list[DaskHandle]:
        """Each call as its own ``run_one`` Dask task (one ``client.map`` for several)."""
        handles, ready = [], []
        for call in calls:
            handle = DaskHandle(call.name)
            handles.append(handle)
            shipped = self._shipment(call, handle)
            if shipped is None:
                continue
            task_shipped, context_shipped, token, options = shipped
            key = self.session.unique_key(task_run_key(call.name, token))
            arguments = _Arguments(self.session)
            plan = self._plan(call, key, None, arguments, slicer, limit)
            submitted = Submitted(key, dask_entry.run_one,
                                  (task_shipped, context_shipped, self.session.topic, plan),
                                  arguments.sources, task_identity(call.task), options)
            submitted.handles = [handle]
            handle.submitted = submitted
            ready.append((submitted, arguments))
        self._send(dask_entry.run_one, ready)
        return handles

    def _submit_batches(self, calls: Iterable[TaskRunCall], size: int, limit: int,
                        task_id: Any) -> list[DaskHandle]:
        """``calls`` in ``run_batch`` Dask tasks of up to ``size`` children (one ``client.map``).

        A batch also ends early (at half its size or more) where the Dask task holding a
        mapped-over upstream child changes, so that most batches read one upstream batch.
        """
        handles: list[DaskHandle] = []
        ready: list[tuple[Submitted, _Arguments]] = []
        batch = _Batch(self, size, limit)
        shipped = None
        for call in calls:
            handle = DaskHandle(call.name)
            handles.append(handle)
            if shipped is None:
                shipped = self._shipment(call, handle, check_inputs=False)
                if shipped is None:  # the task cannot ship: every child fails the same way
                    failure = handle.state
                    for other in calls:
                        handles.append(DaskHandle(other.name, state=failure))
                    return handles
            problem = self._inputs_problem(call)
            if problem is not None:
                handle.state = problem
                continue
            if batch.is_full(_mapped_owner(call)) and shipped is not None:
                ready.append(batch.close(shipped, task_id))
                batch = _Batch(self, size, limit)
            batch.add(call, handle)
        if batch.handles and shipped is not None:
            ready.append(batch.close(shipped, task_id))
        self._send(dask_entry.run_batch, ready)
        return handles

    def _send(self, function: Any, ready: list[tuple[Submitted, _Arguments]]) -> None:
        """Submit prepared Dask tasks: one ``client.submit``, or one ``client.map`` for many."""
        if not ready:
            return
        for submitted, _ in ready:
            self.session.register(submitted)
        client = self.session.client
        try:
            if len(ready) == 1:
                submitted, arguments = ready[0]
                submitted.future = client.submit(function, *submitted.payload, arguments.values(),
                                                 key=submitted.key, pure=False, **submitted.options)
                return
            columns = list(zip(*(s.payload for s, _ in ready), strict=True))
            futures = client.map(function, *columns, [a.values() for _, a in ready],
                                 key=[s.key for s, _ in ready], pure=False, **ready[0][0].options)
        except Exception as err:  # boundary: the runs fail, the flow goes on
            logger.error("Could not submit %d Dask tasks", len(ready), exc_info=True)
            for submitted, _ in ready:
                for handle in submitted.handles:
                    handle.state = Failed(f"Task run {handle.name!r} could not be submitted to "
                                          f"Dask: {type(err).__name__}: {err}", err)
                self.session.by_key.pop(submitted.key, None)
            return
        for (submitted, _), future in zip(ready, futures, strict=True):
            submitted.future = future

    # ---- one task run's plan -------------------------------------------------------------------
    def _plan(self, call: TaskRunCall, key: str, position: int | None, arguments: _Arguments,
              slicer: _Slicer, limit: int) -> tuple[Any, ...]:
        """The ``RunPlan`` of ``call``, as a plain tuple (see ``RunPlan``)."""
        refs = tuple(self._ref(ref, arguments, slicer) for ref in call.upstream)
        return (key, position, call.name, call.map_index, refs, call.inputs, call.templates,
                call.initial_state, call.is_start_task, call.mapping_problem, limit)

    def _ref(self, ref: UpstreamRef, arguments: _Arguments, slicer: _Slicer) -> tuple[Any, ...]:
        """The ``WireRef`` of ``ref``, as a plain tuple."""
        edge = self._edge(ref.edge)
        if ref.index is None:
            return (edge, arguments.pointers(ref.sources), ref.reduce, None, False)
        if ref.reduce:  # flattened over a mapped parent: the child holding the element
            source, index = self._locate(ref.sources, ref.index)
            return (edge, arguments.pointers((source,)), False, index, False)
        held, start = slicer.chunk(ref.sources[0], ref.index, ref.flattened)
        return (edge, (arguments.add(held),), False, ref.index - start, False)

    def _locate(self, children: Sequence[DaskHandle], index: int) -> tuple[DaskHandle, int]:
        ends = self._ends(children)
        child = bisect.bisect_right(ends, index)
        return children[child], index - (ends[child - 1] if child else 0)

    def _ends(self, children: Sequence[DaskHandle]) -> list[int]:
        """Cumulative lengths of the children's results (each child's end in the flattening)."""
        cached = self._lengths.get(id(children))
        if cached is not None and cached[0] is children:
            return cached[1]
        ends = list(itertools.accumulate(self.session.shape(c).length or 0 for c in children))
        self._lengths[id(children)] = (children, ends)
        return ends

    def _edge(self, edge: Any) -> WireEdge:
        cached = self._edges.get(id(edge))
        if cached is not None and cached[0] is edge:
            return cached[1]
        wired = wire_edge(edge)
        self._edges[id(edge)] = (edge, wired)
        return wired

    # ---- shipping --------------------------------------------------------------------------------
    def _shipment(self, call: TaskRunCall, handle: DaskHandle, check_inputs: bool = True
                  ) -> tuple[Shipped, Shipped, str, dict[str, Any]] | None:
        """(task, context, flow-run token, Dask options), or None with ``handle`` failed."""
        task = call.task
        entry = self._tasks.get(id(task))
        if entry is None or entry[0] is not task:
            entry = (task, *self._ship_task(task))
            self._tasks[id(task)] = entry
        shipped = entry[1]
        if not isinstance(shipped, Shipped):
            handle.state = Failed(str(shipped), shipped)
            return None
        problem = self._inputs_problem(call) if check_inputs else None
        if problem is not None:
            handle.state = problem
            return None
        context_shipped, token = self._context(call.run_context)
        return shipped, context_shipped, token, entry[2]

    def _ship_task(self, task: Any) -> tuple[Shipped | UnpicklableError | ResourceTagError,
                                             dict[str, Any]]:
        try:
            resources = resources_from_tags(task.name, getattr(task, "tags", ()) or ())
            shipped = self._ship_copy(task) or Shipped(self._token(), dumps_task(task))
        except (UnpicklableError, ResourceTagError) as err:
            return err, {}
        return shipped, ({"resources": resources} if resources else {})

    def _ship_copy(self, task: Any) -> Shipped | None:
        """A task copied into a flow, shipped as its template plus what differs (None when
        it is no such copy). Flows copy a task at every call, so a fan-out of 10,000 calls
        pickles one function, not 10,000."""
        template = getattr(task, "_template", None)
        if template is None or template is task or type(template) is not type(task):
            return None
        entry = self._tasks.get(id(template))
        if entry is None or entry[0] is not template:
            entry = (template, *self._ship_task(template))
            self._tasks[id(template)] = entry
        base = entry[1]
        if not isinstance(base, Shipped):
            return None
        inherited = vars(template)
        changed = {name: value for name, value in vars(task).items()
                   if name != "_flow_ref" and inherited.get(name, _MISSING) is not value}
        try:
            blob = dumps(changed)
        except Exception:  # an attribute of the copy refuses: say which, below
            return None
        return Shipped(self._token(), blob, base)

    def _context(self, run_context: Mapping[str, Any]) -> tuple[Shipped, str]:
        for known, shipped, token in self._contexts:
            if known is run_context:
                return shipped, token
        for known, shipped, token in self._contexts:
            if known == run_context:
                return shipped, token
        shipped, token = Shipped(self._token(), dumps(dict(run_context))), run_token(run_context)
        self._contexts = [(run_context, shipped, token), *self._contexts[:7]]
        return shipped, token

    def _inputs_problem(self, call: TaskRunCall) -> State | None:
        for label, values in (("argument", call.inputs), ("argument", call.templates)):
            if not values:
                continue
            cached = self._checked.get(id(values))
            if cached is None or cached[0] is not values:
                cached = (values, _first_unpicklable(call.task.name, label, values))
                self._checked[id(values)] = cached
            if cached[1] is not None:
                return Failed(str(cached[1]), cached[1])
        return None

    def _token(self) -> str:
        return f"{self.session.topic}:{next(self._tokens)}"

    # ---- what this process holds -----------------------------------------------------------------
    def local_state(self, handle: DaskHandle) -> State | None:
        """The final state of ``handle`` if its result is here (not on a worker), else None."""
        if not handle.is_final:
            return None
        if handle.submitted is not None and handle.submitted.future is not None:
            record = handle.record
            if record is not None and record[12] == b"":
                return None
        state = self.session.state_of(handle)
        return None if isinstance(state._result, DaskResult) else state


class _Arguments:
    """The ``args`` of one Dask task: each distinct upstream Dask task or state, once."""

    __slots__ = ("_index", "session", "sources")

    def __init__(self, session: DaskSession) -> None:
        self.session = session
        self.sources: list[Any] = []
        self._index: dict[int, int] = {}

    def add(self, source: Any) -> int:
        position = self._index.get(id(source))
        if position is None:
            position = self._index[id(source)] = len(self.sources)
            self.sources.append(source)
        return position

    def pointers(self, handles: Sequence[DaskHandle]) -> tuple[Pointer, ...]:
        """Pointers to the handles' states; a run of one batch's members becomes one range
        pointer ``(argument, first, last + 1)``, so a reduce over 100,000 batched children
        ships a few pointers."""
        pointers: list[Pointer] = []
        run_index, run_start, run_stop = -1, 0, 0
        for handle in handles:
            submitted = _owner(handle)
            position = handle.position
            if submitted is not None and position is not None:
                index = self.add(submitted)
                if index == run_index and position == run_stop:
                    run_stop += 1
                    continue
                if run_index >= 0:
                    pointers.append(_run(run_index, run_start, run_stop))
                run_index, run_start, run_stop = index, position, position + 1
                continue
            if run_index >= 0:
                pointers.append(_run(run_index, run_start, run_stop))
                run_index = -1
            held = submitted if submitted is not None else self.session.wait(handle)
            pointers.append(self.add(held))
        if run_index >= 0:
            pointers.append(_run(run_index, run_start, run_stop))
        return tuple(pointers)

    def values(self) -> tuple[Any, ...]:
        """The argument values: futures of healthy upstream Dask tasks, else final states."""
        return tuple(s.future if isinstance(s, Submitted) and s.future is not None
                     else argument(self.session, s) for s in self.sources)


def _run(index: int, start: int, stop: int) -> Pointer:
    return (index, start) if stop == start + 1 else (index, start, stop)


def _owner(handle: Any) -> Submitted | None:
    """The live Dask task holding a handle's state (None when only its final state is left)."""
    submitted: Submitted | None = getattr(handle, "submitted", None)
    while submitted is not None and submitted.replaced_by is not None:
        submitted = submitted.replaced_by
    if submitted is None or submitted.future is None:
        return None
    return submitted


class _Slicer:
    """Elements of upstream results for mapped children: runs of ``size`` consecutive
    elements cut once (here, from a result this process holds; else by a ``take_slice``
    Dask task where the result lives) and shared by the children that read them."""

    def __init__(self, submitter: Submitter, size: int) -> None:
        self.submitter = submitter
        self.size = max(1, size)
        self._cuts: dict[int, tuple[int, int, Any]] = {}

    def chunk(self, handle: DaskHandle, index: int, flattened: bool) -> tuple[Any, int]:
        """(a state, or a slice Dask task, holding element ``index``; its first index)."""
        current = self._cuts.get(id(handle))
        if current is not None and current[0] <= index < current[1]:
            return current[2], current[0]
        start, stop = index, index + self.size
        local = self.submitter.local_state(handle)
        if local is None and _owner(handle) is None:
            local = self.submitter.session.wait(handle)
        if local is None:
            held: Any = self._remote_slice(handle, start, stop, flattened)
        elif local.is_successful():
            held = local.with_result(cut(local.data, start, stop, flattened))
        else:
            held = local
        self._cuts[id(handle)] = (start, stop, held)
        return held, start

    def _remote_slice(self, handle: DaskHandle, start: int, stop: int,
                      flattened: bool) -> Submitted:
        session = self.submitter.session
        source = _owner(handle)
        assert source is not None
        token = source.key.rsplit("-", 1)[-1]
        key = session.unique_key(slice_key(handle.name, start, stop, token))
        options = {"workers": [source.worker], "allow_other_workers": True} if source.worker else {}
        submitted = Submitted(key, dask_entry.take_slice, (handle.position, start, stop, flattened),
                              [source], None, options)
        session.register(submitted)
        submitted.future = session.client.submit(dask_entry.take_slice, *submitted.payload,
                                                 (source.future,), key=key, pure=False, **options)
        return submitted


class _Batch:
    """The children gathered into one ``run_batch`` Dask task, as they are read."""

    def __init__(self, submitter: Submitter, size: int, limit: int) -> None:
        self.submitter, self.size, self.limit = submitter, size, limit
        self.arguments = _Arguments(submitter.session)
        self.slicer = _Slicer(submitter, size)
        self.handles: list[DaskHandle] = []
        self.plans: list[tuple[Any, ...]] = []
        self.map_indexes: list[int] = []
        self.owner: Any = None

    def is_full(self, owner: Any) -> bool:
        """Full at ``size``; or at half of it when the next child reads another upstream batch."""
        count = len(self.handles)
        if count >= self.size:
            return True
        return owner is not None and self.owner is not None and owner is not self.owner and (
            2 * count >= self.size)

    def add(self, call: TaskRunCall, handle: DaskHandle) -> None:
        if not self.handles:
            self.owner = _mapped_owner(call)
        handle.position = len(self.plans)
        self.handles.append(handle)
        self.map_indexes.append(call.map_index or 0)
        self.plans.append(self.submitter._plan(call, "", handle.position, self.arguments,
                                               self.slicer, self.limit))

    def close(self, shipped: tuple[Shipped, Shipped, str, dict[str, Any]],
              task_id: Any) -> tuple[Submitted, _Arguments]:
        task_shipped, context_shipped, token, options = shipped
        first_name = self.plans[0][2]
        key = self.submitter.session.unique_key(
            batch_key(first_name, self.map_indexes[0], self.map_indexes[-1], token))
        plans = BatchPlan.pack(key, self.plans)
        submitted = Submitted(key, dask_entry.run_batch,
                              (task_shipped, context_shipped, self.submitter.session.topic, plans),
                              self.arguments.sources, task_id, options)
        submitted.handles = self.handles
        for handle in self.handles:
            handle.submitted = submitted
        return submitted, self.arguments


def _mapped_owner(call: TaskRunCall) -> Submitted | None:
    """The Dask task holding the upstream child this mapped child maps over (if any)."""
    for ref in call.upstream:
        if not ref.reduce and ref.index is None and len(ref.sources) == 1:
            return _owner(ref.sources[0])
    return None


def _one_mapped_task(calls: Sequence[TaskRunCall]) -> bool:
    """Whether ``calls`` are children of one mapped task (a flow runner's lazy sequence
    says so itself; a list is checked)."""
    task = getattr(calls, "task", None)
    if task is not None:
        return True
    if len(calls) < 2 or not isinstance(calls, list):
        return False
    first = calls[0].task
    return all(c.task is first and c.map_index is not None for c in calls)


def _first_unpicklable(task_name: str, label: str,
                       values: Mapping[str, Any]) -> UnpicklableError | None:
    try:
        dumps(dict(values))
    except Exception:  # find which argument refused, below
        for name, value in values.items():
            try:
                check_value(task_name, f"{label} {name!r}", value)
            except UnpicklableError as err:
                return err
    return None


def task_identity(task: Any) -> tuple[str, ...]:
    """What identifies a task across flow runs (for its measured child durations)."""
    function = getattr(task, "__wrapped__", None)
    return (type(task).__module__, type(task).__qualname__, str(getattr(task, "name", "")),
            getattr(function, "__module__", "") or "", getattr(function, "__qualname__", "") or "")
