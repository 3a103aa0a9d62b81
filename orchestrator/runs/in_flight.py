"""Bounded in-flight mapped branches: depth-first runs of deep maps, in bounded memory.

A *branch* is one item's way through a chain of mapped levels: child i of the first mapped
level (the *head*, ``load``) and child i of each level mapped over it nth-to-nth
(``transform``, ``save``). Without a bound every level is handed over whole, so a backend
runs them breadth first and holds every loaded item at once. With ``Flow(max_in_flight=k)``
or ``@task(max_in_flight=k)`` on one of the levels, a DAG pass submits the branches in
small chunks and keeps at most ``k`` of them alive (submitted, last level not final):

    chunk of branches i..j:  load[i..j] -> transform[i..j] -> save[i..j]   (Dask priority
                             0, 1, 2: deeper levels run first among ready runs)
    release load[i..j], transform[i..j] once their consumers are submitted
    wait until the alive branches leave room for the next chunk

A branch is done when each *leaf* level's child (one with no consumer among the levels) is
over for this pass (final, paused, or handed back to retry later), whatever its state: a
failed branch never stops the others. Each child is still its
own task run (state, retries, map index), and the mapped parents get every child, so reduce
tasks after the map receive all of them (the levels they read are kept until then).

Who belongs to a group (``find_branch_group``): the head, a mapped task with no given
state; then, in topological order, each mapped descendant whose mapped edges all come from
group members (nth-to-nth, not flattened) and whose other edges come from tasks that do not
depend on the head (those are submitted before the group: ``BranchGroup.before``). A
descendant that reads the levels any other way (unmapped, flattened, through another task)
runs after them as usual. The bound is the smallest ``max_in_flight`` of the flow and the
members; none set means no group. Runs with start tasks (resuming) take the usual path.

Every runner honours the bound: the sequential one trivially (each chunk is over when
submitted), the thread pool by what it is handed, Dask by that and by ``priority=``.
``@flow`` functions hold their bounded maps back and feed them the same way
(``runs.function_branches``).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.dag.task import Task
from orchestrator.runs.naming import task_run_prefix
from orchestrator.runs.scheduler import ChildRefs
from orchestrator.task_runners.base import AnyTaskRunner, ChildCalls
from taskrun.wire import TaskRunCall, UpstreamRef

#: branches submitted together, as a share of the bound: one chunk waits for room, the
#: rest of the window keeps the workers busy meanwhile
CHUNK_SHARE = 4
#: seconds between looks at the alive branches when the runner tells of final runs
#: (a run whose end it missed, such as on a dead worker, is still seen)
WATCHED_POLL_SECONDS = 1.0
#: ... and when it cannot tell (it has no ``watch``)
UNWATCHED_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class BranchGroup:
    """The mapped levels that run branch by branch, and how (see the module docstring)."""

    #: every level in topological order, the head first
    members: tuple[Task, ...]
    #: per level: 0 for the head, 1 + the deepest level it maps over otherwise
    depth: Mapping[Task, int]
    #: levels with no consumer among the levels: a branch is done when these are final
    leaves: tuple[Task, ...]
    #: levels whose consumers are all levels (or none): released chunk by chunk
    chained: tuple[Task, ...]
    #: branches alive at once
    bound: int
    #: tasks that do not depend on the head but that levels read: submitted first
    before: tuple[Task, ...]

    @property
    def head(self) -> Task:
        return self.members[0]


def find_branch_group(
    flow: Any, head: Task, order: Sequence[Task], position: int, given: Container[Task]
) -> BranchGroup | None:
    """The group ``head`` starts (``order[position]`` is ``head``), or None when it is not
    bounded or cannot start one. Pure: reads the flow's graph only."""
    if head in given or not any(e.mapped for e in flow._inputs(head)):
        return None
    members, depth, descendants = [head], {head: 0}, {head}
    outside: list[tuple[int, Task]] = []  # tasks after the head that do not depend on it
    for offset, task in enumerate(order[position + 1 :], start=position + 1):
        if not any(u in descendants for u in flow._producers(task)):
            outside.append((offset, task))
            continue
        descendants.add(task)
        if task not in given and _joins(flow, task, depth, descendants):
            members.append(task)
            depth[task] = 1 + max(
                depth[e.upstream_task] for e in flow._inputs(task) if e.upstream_task in depth
            )
    flow_bound = getattr(flow, "max_in_flight", None)
    bounds = [b for b in (flow_bound, *(_bound(m) for m in members)) if b is not None]
    if not bounds:
        return None
    last = order.index(members[-1], position)
    consumers = {m: flow._consumers(m) for m in members}
    return BranchGroup(
        members=tuple(members),
        depth=depth,
        leaves=tuple(m for m in members if not any(c in depth for c in consumers[m])),
        chained=tuple(m for m in members if all(c in depth for c in consumers[m])),
        bound=min(bounds),
        before=tuple(task for offset, task in outside if offset < last),
    )


def _joins(flow: Any, task: Task, levels: Container[Task], descendants: Container[Task]) -> bool:
    """Whether ``task`` is a level: mapped nth-to-nth over levels only, nothing else read
    from the head's descendants."""
    edges = flow._inputs(task)
    if not any(e.mapped for e in edges):
        return False
    for edge in edges:
        upstream = edge.upstream_task
        if upstream in levels:
            if not edge.mapped or edge.flattened:
                return False
        elif upstream in descendants or edge.mapped:
            return False
    return True


def _bound(task: Task) -> int | None:
    bound = getattr(task, "max_in_flight", None)
    return bound if isinstance(bound, int) else None


def is_bounded(flow: Any) -> bool:
    """Whether any map of ``flow`` may run branch by branch (a cheap check per pass)."""
    if getattr(flow, "max_in_flight", None) is not None:
        return True
    return any(_bound(t) is not None for t in flow.tasks)


#: builds child ``map_index`` of a level with these upstream refs
CallBuilder = Callable[[Task, tuple[UpstreamRef, ...], int, str], TaskRunCall]


def submit_branches(
    group: BranchGroup,
    count: int,
    flow: Any,
    runner: AnyTaskRunner,
    handles: dict[Task, Any],
    build: CallBuilder,
) -> None:
    """Submit ``count`` branches of ``group``, at most ``group.bound`` alive at once.

    Mutates ``handles``: each level gets a list of its children's handles, growing as they
    are submitted (progress displays read it meanwhile). Returns once the last chunk is
    submitted; the last ``bound`` branches may still run.
    """
    for member in group.members:
        handles[member] = []  # before the refs: they read the growing lists
    refs = {m: ChildRefs(flow._inputs(m), handles) for m in group.members}
    prefixes = {m: task_run_prefix(m) for m in group.members}
    chunk = max(1, group.bound // CHUNK_SHARE)
    window = InFlightWindow(runner, group.bound)
    try:
        for start in range(0, count, chunk):
            stop = min(count, start + chunk)
            window.admit(stop - start)
            for member in group.members:

                def child(position: int, member: Task = member, start: int = start) -> TaskRunCall:
                    i = start + position
                    return build(member, refs[member].refs(i), i, f"{prefixes[member]}{i}")

                calls = ChildCalls(member, stop - start, child, priority=group.depth[member])
                handles[member].extend(runner.submit_many(calls))
            for member in group.chained:  # their consumers have them: Dask may drop them
                runner.release(handles[member][start:stop])
            for i in range(start, stop):
                window.add([handles[leaf][i] for leaf in group.leaves])
    finally:
        window.close()


class InFlightWindow:
    """The branches submitted and not done yet; ``admit`` waits for room.

    The runner tells of final runs (``watch``) from its own threads; ``admit`` also looks
    at the alive branches now and then, for runs whose end it was not told of.
    """

    def __init__(self, runner: AnyTaskRunner, bound: int) -> None:
        self.runner, self.bound = runner, bound
        self._changed = threading.Condition()
        #: per unfinished leaf handle (by identity): the handle and its branch's count of
        #: unfinished leaves
        self._waiting: dict[int, tuple[Any, list[int]]] = {}
        #: branches added and not done
        self.alive = 0
        self._unwatch = runner.watch(self._final)
        self._poll = WATCHED_POLL_SECONDS if self._unwatch else UNWATCHED_POLL_SECONDS

    def add(self, leaves: Sequence[Any]) -> None:
        """One branch, by the handles of its leaf levels' children."""
        if not leaves:
            return
        left = [len(leaves)]
        with self._changed:
            self.alive += 1
            for handle in leaves:
                self._waiting[id(handle)] = (handle, left)
        for handle in leaves:  # it may have ended before it was added
            if self._is_over(handle):
                self._final(handle)

    def admit(self, count: int) -> None:
        """Wait until ``count`` more branches fit (at once when none is alive)."""
        while True:
            with self._changed:
                if not self.alive or self.alive + count <= self.bound:
                    return
                if self._changed.wait(self._poll):
                    continue
                waiting = [handle for handle, _ in self._waiting.values()]
            for handle in waiting:  # outside the lock: a runner may tell meanwhile
                if self._is_over(handle):
                    self._final(handle)

    def close(self) -> None:
        """Stop hearing from the runner."""
        if self._unwatch is not None:
            self._unwatch()

    def _is_over(self, handle: Any) -> bool:
        """Whether the run is over for this pass: final, or handed back (paused, or to
        retry in a later pass), so it will not move without the flow runner."""
        try:
            return self.runner.wait(handle, 0) is not None
        except cf.CancelledError:  # a thread-pool run cancelled before it started
            return True

    def _final(self, handle: Any) -> None:
        with self._changed:
            entry = self._waiting.pop(id(handle), None)
            if entry is None:
                return
            left = entry[1]
            left[0] -= 1
            if left[0] == 0:
                self.alive -= 1
                self._changed.notify_all()
