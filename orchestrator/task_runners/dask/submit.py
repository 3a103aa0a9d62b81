"""Turning ``TaskRunCall`` objects into Dask tasks: the Dask runner's hot path.

For each call (or each mapped level, in one ``client.map``):

1. ship the task and the flow run's context keys once per session (``Shipped`` bytes,
   cloudpickled here, so an unpicklable task or argument fails *its* task run with a
   message naming the object, and nothing else);
2. point every upstream ref at Dask task arguments (``Arguments``): the upstream's Dask
   future when it is on the cluster (Dask moves the data worker to worker), or its
   final state when this process has it (given states, small results);
3. give mapped children their element without shipping the whole list: cut from a
   result this process holds, or by a ``take_slice`` Dask task that runs where the
   result lives (``Slicer``);
4. submit ``run_one`` (one task run) or ``run_batch`` (several mapped children), with
   readable keys and the task's Dask resources.

Mapped levels are batched (``batching``): a probe measures the children first when
their duration is unknown. Nothing here waits for a task run except that probe.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from orchestrator.task_runners.base import ChildCalls
from orchestrator.task_runners.dask import batching
from orchestrator.task_runners.dask.arguments import Arguments, Batch, Slicer, mapped_owner
from orchestrator.task_runners.dask.coalescing import Coalescer
from orchestrator.task_runners.dask.handles import RUNNING, DaskHandle, Submitted
from orchestrator.task_runners.dask.identity_cache import IdentityCache
from orchestrator.task_runners.dask.keys import task_run_key
from orchestrator.task_runners.dask.session import DaskSession
from orchestrator.task_runners.dask.shipping import Shipment, Shipper, task_identity
from taskrun.dask import entry as dask_entry
from taskrun.dask.records import has_result_on_worker
from taskrun.dask.shipping import RunPlan, WireEdge, WireRef, wire_edge
from taskrun.states import DeferredResult, Failed, State
from taskrun.wire import TaskRunCall, UpstreamRef

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: pickled bytes a mapped level's results may bring back with their summaries, in all
LEVEL_INLINE_BUDGET = 64 << 20
#: ... but each child may bring at least this much (numbers, short strings)
MIN_CHILD_INLINE = 1 << 10
#: slices per worker thread for a level of unbatched children: the grain it is spread over
#: the workers at (each slice's children run where it is; in pairs 16 put 9 on one of 2)
_SLICES_PER_THREAD = 8


#: edges whose wire labels are kept for reuse (the children of a level share one)
_EDGES_REMEMBERED = 256


class Submitter:
    """Submits task runs of one session to Dask (see the module docstring). Not thread-safe:
    the runner lets one thread submit at a time."""

    def __init__(
        self, session: DaskSession, inline_limit: int, threads: Any, lock: Any = None
    ) -> None:
        self.session = session
        self.inline_limit = inline_limit
        self.threads = threads  # () -> total worker threads
        self.shipper = Shipper(session.topic)
        self._edges: IdentityCache[WireEdge] = IdentityCache(_EDGES_REMEMBERED)
        self._lengths: IdentityCache[list[int]] = IdentityCache()
        #: single calls gathered into groups (``lock``: the runner's submission lock)
        self.coalescer = Coalescer(self, lock if lock is not None else threading.RLock())
        #: Dask ``priority=`` of what is being submitted (a ``ChildCalls``' own: deeper
        #: levels of bounded mapped branches run first, see ``orchestrator.runs.in_flight``)
        self._priority = 0

    # ---- public ---------------------------------------------------------------------------
    def submit(self, call: TaskRunCall) -> DaskHandle:
        """One task run: gathered with others into a group, or alone (``coalescing``)."""
        return self.coalescer.submit(call)

    def submit_alone(self, call: TaskRunCall) -> DaskHandle:
        """One task run as one Dask task, at once."""
        return self._submit_singles([call], self.inline_limit, Slicer(self, 1))[0]

    def submit_many(self, calls: Sequence[TaskRunCall]) -> list[DaskHandle]:
        """Many task runs; consecutive children of one mapped task go in one submission,
        batched unless the task's ``batch_size`` is 1. ``calls`` may build each call when
        read: each is read once, in order (the children of one task are not scanned)."""
        if not len(calls):
            return []
        self.coalescer.flush()  # children point at the Dask tasks of what they read
        self._priority = getattr(calls, "priority", 0)
        try:
            return self._submit_mixed(calls)
        finally:
            self._priority = 0

    def _submit_mixed(self, calls: Sequence[TaskRunCall]) -> list[DaskHandle]:
        if _one_mapped_task(calls):
            return self._submit_level(calls)
        handles: list[DaskHandle] = []
        start = 0
        while start < len(calls):
            stop = start + 1
            first = calls[start]
            while (
                stop < len(calls)
                and first.map_index is not None
                and calls[stop].task is first.task
                and calls[stop].map_index is not None
            ):
                stop += 1
            group = calls[start:stop]
            handles.extend(
                self._submit_level(group) if len(group) > 1 else [self.submit_alone(first)]
            )
            start = stop
        return handles

    # ---- a mapped level ----------------------------------------------------------------------
    def _submit_level(self, calls: Sequence[TaskRunCall]) -> list[DaskHandle]:
        count = len(calls)
        first = calls[0]
        limit = max(MIN_CHILD_INLINE, min(self.inline_limit, LEVEL_INLINE_BUDGET // count))
        threads = max(1, int(self.threads()))
        task_id = task_identity(first.task)
        decision = batching.decide(
            count,
            threads,
            getattr(first.task, "batch_size", None),
            self.session.estimates.get(task_id),
        )
        handles: list[DaskHandle] = []
        done = 0
        if decision.probe:
            probe = self._submit_singles(
                [calls[i] for i in range(decision.probe)], limit, Slicer(self, 1)
            )
            handles.extend(probe)
            done = decision.probe
            seconds = self._measure_probe(probe)
            size = batching.batch_size_for(count - done, threads, seconds) if seconds else 1
            take = threads * size
            if seconds is not None and batching.calibrates(count - done, take, seconds):
                # the probe may have paid one-off costs: re-size from a round of warm batches
                round_ = self._submit_batches(calls[done : done + take], size, limit, task_id)
                handles.extend(round_)
                done += take
                seconds = self._measure_round(round_) or seconds
                size = batching.batch_size_for(count - done, threads, seconds)
        else:
            size = decision.size or 1
        rest = (calls[i] for i in range(done, count))
        if size == 1:
            chunk = max(1, -(-count // (_SLICES_PER_THREAD * threads)))
            handles.extend(self._submit_singles(rest, limit, Slicer(self, chunk)))
        elif done < count:
            handles.extend(self._submit_batches(rest, size, limit, task_id))
        return handles

    def _measure_probe(self, probe: Sequence[DaskHandle]) -> float | None:
        """Seconds per child, from the probe's summaries (see ``batching``)."""
        running_since: dict[int, float] = {}
        session = self.session
        while True:
            now = time.monotonic()
            records = [h.final_record() for h in probe]
            finished = [record.elapsed for record in records if record is not None]
            for h in probe:
                if h.live is RUNNING and id(h) not in running_since:
                    running_since[id(h)] = now
            running = [now - t for t in running_since.values()]
            if finished or all(h.is_final for h in probe):
                return batching.estimate_from_probe(finished, running)
            estimate = batching.estimate_from_probe([], running)
            if estimate is not None:
                return estimate
            if any(
                h.submitted is not None
                and h.submitted.future is not None
                and h.submitted.future.status in ("error", "cancelled")
                for h in probe
            ):
                return None
            with session.cond:
                session.cond.wait(0.01)

    def _measure_round(self, round_: Sequence[DaskHandle]) -> float | None:
        """Median seconds per child of a calibration round (see ``batching``), bounded."""
        seen: dict[int, float] = {}
        session = self.session
        deadline = time.monotonic() + batching.CALIBRATE_PATIENCE_SECONDS
        while True:
            for h in round_:
                record = h.final_record()
                if record is not None:
                    seen[id(h)] = record.elapsed
            if all(h.is_final for h in round_) or time.monotonic() > deadline:
                return batching.median_seconds(list(seen.values()))
            with session.cond:
                session.cond.wait(0.005)

    # ---- singles and batches ---------------------------------------------------------------------
    def _submit_singles(
        self, calls: Iterable[TaskRunCall], limit: int, slicer: Slicer
    ) -> list[DaskHandle]:
        """Each call as its own ``run_one`` Dask task (one ``client.map`` for several)."""
        handles, ready = [], []
        for call in calls:
            handle = DaskHandle(call.name)
            handles.append(handle)
            shipped = self.shipper.shipment(call, handle)
            if shipped is not None:
                ready.append(self.single(call, handle, shipped, slicer, limit))
        self.send(dask_entry.run_one, ready)
        return handles

    def single(
        self, call: TaskRunCall, handle: DaskHandle, shipped: Shipment, slicer: Slicer, limit: int
    ) -> tuple[Submitted, Arguments]:
        """``call`` as its own ``run_one`` Dask task, ready to send."""
        task_shipped, context_shipped, token, options = shipped
        key = self.session.unique_key(task_run_key(call.name, token))
        arguments = Arguments(self.session)
        plan = self.plan(call, key, None, arguments, slicer, limit)
        submitted = Submitted(
            key,
            dask_entry.run_one,
            (task_shipped, context_shipped, self.session.channel, tuple(plan)),
            arguments.sources,
            task_identity(call.task),
            options,
        )
        submitted.handles = [handle]
        handle.submitted = submitted
        return submitted, arguments

    def _submit_batches(
        self, calls: Iterable[TaskRunCall], size: int, limit: int, task_id: Any
    ) -> list[DaskHandle]:
        """``calls`` in ``run_batch`` Dask tasks of up to ``size`` children (one ``client.map``).

        A batch also ends early (at half its size or more) where the Dask task holding a
        mapped-over upstream child changes, so that most batches read one upstream batch.
        """
        handles: list[DaskHandle] = []
        ready: list[tuple[Submitted, Arguments]] = []
        batch = Batch(self, size, limit)
        shipped = None
        for call in calls:
            handle = DaskHandle(call.name)
            handles.append(handle)
            if shipped is None:
                shipped = self.shipper.shipment(call, handle, check_inputs=False)
                if shipped is None:  # the task cannot ship: every child fails the same way
                    failure = handle.state
                    for other in calls:
                        handles.append(DaskHandle(other.name, state=failure))
                    return handles
            problem = self.shipper.inputs_problem(call)
            if problem is not None:
                handle.state = problem
                continue
            if batch.is_full(mapped_owner(call)) and shipped is not None:
                ready.append(batch.close(shipped, task_id))
                batch = Batch(self, size, limit)
            batch.add(call, handle)
        if batch.handles and shipped is not None:
            ready.append(batch.close(shipped, task_id))
        self.send(dask_entry.run_batch, ready)
        return handles

    def send(self, function: Any, ready: list[tuple[Submitted, Arguments]]) -> None:
        """Submit prepared Dask tasks: one ``client.submit``, or one ``client.map`` for many."""
        # a cluster that cannot run them (scheduler lost, workers gone) fails them here
        ready = [item for item in ready if self.session.register(item[0])]
        if not ready:
            return
        if self._priority:  # kept in the options: a resubmission (repair) keeps it too
            for submitted, _ in ready:
                submitted.options = {**submitted.options, "priority": self._priority}
        client = self.session.client
        try:
            if len(ready) == 1:
                submitted, arguments = ready[0]
                submitted.future = client.submit(
                    function,
                    *submitted.payload,
                    arguments.values(),
                    key=submitted.key,
                    pure=False,
                    **submitted.options,
                )
                return
            columns = list(zip(*(s.payload for s, _ in ready), strict=True))
            futures = client.map(
                function,
                *columns,
                [a.values() for _, a in ready],
                key=[s.key for s, _ in ready],
                pure=False,
                **ready[0][0].options,
            )
        except Exception as err:  # boundary: the runs fail, the flow goes on
            logger.error("Could not submit %d Dask tasks", len(ready), exc_info=True)
            for submitted, _ in ready:
                for handle in submitted.handles:
                    handle.state = Failed(
                        f"Task run {handle.name!r} could not be submitted to "
                        f"Dask: {type(err).__name__}: {err}",
                        err,
                    )
                self.session.by_key.pop(submitted.key, None)
            return
        for (submitted, _), future in zip(ready, futures, strict=True):
            submitted.future = future

    # ---- one task run's plan -------------------------------------------------------------------
    def plan(
        self,
        call: TaskRunCall,
        key: str,
        position: int | None,
        arguments: Arguments,
        slicer: Slicer,
        limit: int,
    ) -> RunPlan:
        """The ``RunPlan`` of ``call`` (its refs as plain tuples: they travel inside it)."""
        refs = tuple(self._ref(ref, arguments, slicer) for ref in call.upstream)
        return RunPlan(
            key,
            position,
            call.name,
            call.map_index,
            refs,
            call.inputs,
            call.templates,
            call.initial_state,
            call.is_start_task,
            call.mapping_problem,
            limit,
        )

    def _ref(self, ref: UpstreamRef, arguments: Arguments, slicer: Slicer) -> tuple[Any, ...]:
        """The ``WireRef`` of ``ref``, as a plain tuple."""
        edge = self._edge(ref.edge)
        if ref.index is None:
            wire = WireRef(edge, arguments.pointers(ref.sources), ref.reduce, None, False)
        elif ref.reduce:  # flattened over a mapped parent: the child holding the element
            source, index = self._locate(ref.sources, ref.index)
            wire = WireRef(edge, arguments.pointers((source,)), False, index, False)
        else:
            held, start = slicer.chunk(ref.sources[0], ref.index, ref.flattened)
            wire = WireRef(edge, (arguments.add(held),), False, ref.index - start, False)
        return tuple(wire)

    def _locate(self, children: Sequence[DaskHandle], index: int) -> tuple[DaskHandle, int]:
        ends = self._ends(children)
        child = bisect.bisect_right(ends, index)
        return children[child], index - (ends[child - 1] if child else 0)

    def _ends(self, children: Sequence[DaskHandle]) -> list[int]:
        """Cumulative lengths of the children's results (each child's end in the flattening)."""
        return self._lengths.get(children, self._measure_ends, children)

    def _measure_ends(self, children: Sequence[DaskHandle]) -> list[int]:
        return list(itertools.accumulate(self.session.shape(c).length or 0 for c in children))

    def _edge(self, edge: Any) -> WireEdge:
        """The wire label of an edge, made once for the children of a level that share it
        (they are submitted together: only the latest few edges are remembered)."""
        return self._edges.get(edge, wire_edge, edge)

    # ---- what this process holds -----------------------------------------------------------------
    def local_state(self, handle: DaskHandle) -> State | None:
        """The final state of ``handle`` if its result is here (not on a worker), else None."""
        if not handle.is_final:
            return None
        if handle.submitted is not None and handle.submitted.future is not None:
            record = handle.final_record()
            if record is not None and has_result_on_worker(record):
                return None
        state = self.session.state_of(handle)
        # a result still pickled is cut where it lives, not unpickled here
        return None if isinstance(state._result, DeferredResult) else state


def _one_mapped_task(calls: Sequence[TaskRunCall]) -> bool:
    """Whether ``calls`` are children of one mapped task (``ChildCalls`` are; a list is
    checked)."""
    if isinstance(calls, ChildCalls):
        return True
    if len(calls) < 2 or not isinstance(calls, list):
        return False
    first = calls[0].task
    return all(c.task is first and c.map_index is not None for c in calls)
