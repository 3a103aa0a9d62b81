"""The arguments of the Dask tasks the runner submits, and the batches being gathered.

- ``Arguments``: one Dask task's ``args``, each distinct upstream Dask task (its future,
  so Dask moves the data worker to worker) or state (one this process holds) once, and
  the *pointers* plans use to find their upstream states among them;
- ``Slicer``: the element a mapped child takes from a big upstream result, cut once per
  run of consecutive children -- here, when this process holds the result, else by a
  ``take_slice`` Dask task pinned to the worker that holds it;
- ``Batch``: children gathered into one ``run_batch`` Dask task as they are read.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.task_runners.dask.handles import DaskHandle, Submitted
from orchestrator.task_runners.dask.keys import batch_key, slice_key
from orchestrator.task_runners.dask.repair import argument
from taskrun.dask import entry as dask_entry
from taskrun.dask.batch_plan import BatchPlan
from taskrun.dask.given_states import GivenStates
from taskrun.dask.pickled import ResultNotLoadableError
from taskrun.dask.shipping import Pointer, RunPlan, cut
from taskrun.wire import TaskRunCall

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.session import DaskSession
    from orchestrator.task_runners.dask.shipping import Shipment
    from orchestrator.task_runners.dask.submit import Submitter


class Arguments:
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
        ships a few pointers. Given states (known before any run: a target found up front)
        travel together, as one ``GivenStates`` argument, pointed at the same way."""
        pointers: list[Pointer] = []
        run_index, run_start, run_stop = -1, 0, 0
        given: GivenStates | None = None
        given_index = -1
        for handle in handles:
            submitted = owner(handle)
            position = handle.position
            if submitted is None and handle.is_final:
                # known before any run, or final with its Dask task gone (result here)
                if given is None:
                    given = GivenStates()
                    given_index = self.add(given)
                index, position = given_index, len(given)
                given.append(self.session.state_of(handle))
            elif submitted is not None and position is not None:
                index = self.add(submitted)
            else:
                if run_index >= 0:
                    pointers.append(_run(run_index, run_start, run_stop))
                    run_index = -1
                held = submitted if submitted is not None else self.session.wait(handle)
                pointers.append(self.add(held))
                continue
            if index == run_index and position == run_stop:
                run_stop += 1
                continue
            if run_index >= 0:
                pointers.append(_run(run_index, run_start, run_stop))
            run_index, run_start, run_stop = index, position, position + 1
        if run_index >= 0:
            pointers.append(_run(run_index, run_start, run_stop))
        return tuple(pointers)

    def values(self) -> tuple[Any, ...]:
        """The argument values: futures of healthy upstream Dask tasks, else final states."""
        return tuple(
            s.future
            if isinstance(s, Submitted) and s.future is not None
            else argument(self.session, s)
            for s in self.sources
        )


def _run(index: int, start: int, stop: int) -> Pointer:
    return (index, start) if stop == start + 1 else (index, start, stop)


def owner(handle: Any) -> Submitted | None:
    """The live Dask task holding a handle's state (None when only its final state is left)."""
    submitted: Submitted | None = getattr(handle, "submitted", None)
    while submitted is not None and submitted.replaced_by is not None:
        submitted = submitted.replaced_by
    if submitted is None or submitted.future is None:
        return None
    return submitted


#: a result at most this big has its slices cut on every worker in turn, not where it lives
SPREAD_BYTES = 64 * 1024
#: the turn of the next spread slice (one rotation for the process: fair across levels)
_spread_turns = itertools.count()


class Slicer:
    """Elements of upstream results for mapped children: runs of ``size`` consecutive
    elements cut once (here, from a result this process holds; else by a ``take_slice``
    Dask task where the result lives) and shared by the children that read them.

    Dask runs a task where its inputs are, so children reading slices all cut on one worker
    all queue there (work stealing moves only a few: 16 children of 0.5 s on 2 workers took
    5.6 s, not 4). A small result (``SPREAD_BYTES``) costs less to copy than a busy worker
    costs, so its slices are cut on the session's workers in turn and the children follow.
    """

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
        if local is None and owner(handle) is None:
            local = self.submitter.session.wait(handle)
        if local is None:
            held: Any = self._remote_slice(handle, start, stop, flattened)
        elif local.is_successful():
            try:
                held = local.with_result(cut(local.data, start, stop, flattened))
            except ResultNotLoadableError:  # pass it whole: its readers fail, naming it
                start, stop, held = 0, sys.maxsize, local
        else:
            held = local
        self._cuts[id(handle)] = (start, stop, held)
        return held, start

    def _remote_slice(
        self, handle: DaskHandle, start: int, stop: int, flattened: bool
    ) -> Submitted:
        session = self.submitter.session
        source = owner(handle)
        assert source is not None
        token = source.key.rsplit("-", 1)[-1]
        key = session.unique_key(slice_key(handle.name, start, stop, token))
        worker = _spread_worker(session, source) or source.worker
        options = {"workers": [worker], "allow_other_workers": True} if worker else {}
        submitted = Submitted(
            key,
            dask_entry.take_slice,
            (handle.position, start, stop, flattened),
            [source],
            None,
            options,
        )
        if session.register(submitted):  # else refused (cluster lost): settled as failed
            submitted.future = session.client.submit(
                dask_entry.take_slice,
                *submitted.payload,
                (source.future,),
                key=key,
                pure=False,
                **options,
            )
        return submitted


def _spread_worker(session: DaskSession, source: Submitted) -> str | None:
    """The worker whose turn it is to cut a slice of ``source``'s small value; None when
    the value is big (cut where it lives) or there is one worker."""
    if source.result_bytes > SPREAD_BYTES:
        return None
    workers = sorted(session.watch.workers)
    if len(workers) < 2:
        return None
    return workers[next(_spread_turns) % len(workers)]


class Batch:
    """The children gathered into one ``run_batch`` Dask task, as they are read."""

    def __init__(self, submitter: Submitter, size: int, limit: int) -> None:
        self.submitter, self.size, self.limit = submitter, size, limit
        self.arguments = Arguments(submitter.session)
        self.slicer = Slicer(submitter, size)
        self.handles: list[DaskHandle] = []
        self.plans: list[RunPlan] = []
        self.map_indexes: list[int] = []
        self.owner: Any = None

    def is_full(self, owner: Any) -> bool:
        """Full at ``size``; or at half of it when the next child reads another upstream batch."""
        count = len(self.handles)
        if count >= self.size:
            return True
        return (
            owner is not None
            and self.owner is not None
            and owner is not self.owner
            and (2 * count >= self.size)
        )

    def add(self, call: TaskRunCall, handle: DaskHandle) -> None:
        if not self.handles:
            self.owner = mapped_owner(call)
        handle.position = len(self.plans)
        self.handles.append(handle)
        self.map_indexes.append(call.map_index or 0)
        self.plans.append(
            self.submitter.plan(call, "", handle.position, self.arguments, self.slicer, self.limit)
        )

    def close(self, shipped: Shipment, task_id: Any) -> tuple[Submitted, Arguments]:
        task_shipped, context_shipped, token, options = shipped
        first_name = self.plans[0].name
        key = self.submitter.session.unique_key(
            batch_key(first_name, self.map_indexes[0], self.map_indexes[-1], token)
        )
        plans = BatchPlan.pack(key, self.plans)
        submitted = Submitted(
            key,
            dask_entry.run_batch,
            (task_shipped, context_shipped, self.submitter.session.channel, plans),
            self.arguments.sources,
            task_id,
            options,
        )
        submitted.handles = self.handles
        for handle in self.handles:
            handle.submitted = submitted
        return submitted, self.arguments


def mapped_owner(call: TaskRunCall) -> Submitted | None:
    """The Dask task holding the upstream child this mapped child maps over (if any)."""
    for ref in call.upstream:
        if not ref.reduce and ref.index is None and len(ref.sources) == 1:
            return owner(ref.sources[0])
    return None
