"""Bounded mapped branches in ``@flow`` functions: the calls of a chain of maps, held back
and then fed to the task runner branch by branch (``runs.in_flight`` does it for DAG flows).

In a ``@flow`` every call is submitted as it is made, so ``load.map(items)`` would hand every
load over at once and a backend would run them breadth first, holding every loaded item. A
map of a task with ``max_in_flight`` (or any map in a ``@flow(max_in_flight=k)``) is held
instead: its children get ``Deferred`` handles, and a map over them nth-to-nth (child i
reads child i, nothing else held back) joins the same *group* as its next level:

    loaded = load.map(items)          # held: group of 1 level
    shaped = transform.map(loaded)    # joins: 2 levels
    saved = save.map(shaped)          # joins: 3 levels, nothing submitted yet
    total(saved) / saved[0].wait() / the function returns   -> the group starts

Anything that needs a held run (a call that reads it any other way, ``wait``/``result``,
cancel, the end of the function) starts its group: a feeder thread submits chunks of
branches, every level of a chunk together (Dask priority = level depth), keeps at most
``k`` branches alive (``in_flight.InFlightWindow``) and releases the non-leaf levels of a
chunk once their consumers have it, unless the call that started the group reads them. A
later call that reads a released level is refused, saying why. Until it is submitted a held
run shows ``Pending``; each child stays its own task run (state, retries, journal row).
"""

from __future__ import annotations

import contextvars
import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

from orchestrator.dag import active
from orchestrator.errors import OrchestratorError
from orchestrator.runs.in_flight import CHUNK_SHARE, InFlightWindow
from orchestrator.task_runners.base import AnyTaskRunner, ChildCalls
from taskrun.states import Pending, State
from taskrun.wire import TaskRunCall, UpstreamRef


class ReleasedBranchError(OrchestratorError, RuntimeError):
    """A call read a level of bounded branches whose results were released already."""

    def __init__(self, task_name: str, level: str) -> None:
        super().__init__(task_name, level)
        self.task_name, self.level = task_name, level

    def __str__(self) -> str:
        return (
            f"Task {self.task_name!r} reads the runs of {self.level!r}, a level of mapped "
            "branches bounded by max_in_flight whose results were released once each branch "
            "moved on (that is what bounds their memory). Make the call before the flow needs "
            "any of the branches' results (right after the maps), map it over the last level, "
            "or drop max_in_flight."
        )


class Deferred:
    """The handle of a held child: level ``level`` of ``group``, branch ``position``."""

    __slots__ = ("group", "level", "position", "real")

    def __init__(self, group: BranchFeed, level: int, position: int) -> None:
        self.group, self.level, self.position = group, level, position
        #: the task runner's handle, once submitted
        self.real: Any = None

    def __repr__(self) -> str:
        return f"<Deferred {self.group.levels[self.level].task_name} #{self.position}>"


@dataclasses.dataclass
class _Level:
    task: Any
    task_name: str
    calls: list[TaskRunCall | None]
    handles: list[Deferred]
    #: 1 + the deepest level it reads (0: the first)
    depth: int
    #: levels of the group that read this one
    consumers: set[int] = dataclasses.field(default_factory=set)
    #: read by a call outside the group: never released by the feed
    kept: bool = False
    released: bool = False


class BranchFeed:
    """One group of held maps and the thread that feeds them (see the module docstring)."""

    def __init__(
        self, runner: AnyTaskRunner, bound: int, count: int, held_of: dict[Any, Deferred]
    ) -> None:
        self.runner, self.bound, self.count = runner, bound, count
        #: submitted handle -> its ``Deferred`` (shared by a flow run's groups)
        self.held_of = held_of
        self.levels: list[_Level] = []
        self.started = False
        self.stopping = False  # cancelled or shut down: submit the rest without waiting
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # ---- building the group ------------------------------------------------------------------
    def add_level(self, calls: Sequence[TaskRunCall], task: Any, bound: int | None) -> list[Any]:
        """Hold ``calls`` (one per branch) as the next level; their ``Deferred`` handles."""
        index = len(self.levels)
        read = {d.level for call in calls[:1] for d in deferred_in(call)}
        handles = [Deferred(self, index, i) for i in range(len(calls))]
        level = _Level(task, getattr(task, "name", str(task)), list(calls), handles, 0)
        level.depth = 1 + max((self.levels[i].depth for i in read), default=-1)
        for i in read:
            self.levels[i].consumers.add(index)
        self.levels.append(level)
        if bound is not None:
            self.bound = min(self.bound, bound)
        return list(handles)

    def joins(self, calls: Sequence[TaskRunCall]) -> bool:
        """Whether ``calls`` are a next level: child i reads held runs of this group at
        position i only, and each reads at least one."""
        if self.started or len(calls) != self.count:
            return False
        for position, call in enumerate(calls):
            held = deferred_in(call)
            if not held or any(d.group is not self or d.position != position for d in held):
                return False
        return True

    # ---- feeding -----------------------------------------------------------------------------
    def keep(self, held: Deferred, reader: str) -> None:
        """A call outside the group reads ``held``'s level: it is never released (refused
        when it was released already)."""
        with self._changed:
            level = self.levels[held.level]
            if level.released:
                raise ReleasedBranchError(reader, level.task_name)
            level.kept = True

    def start(self) -> None:
        """Start feeding (once)."""
        with self._changed:
            if self.started:
                return
            self.started = True
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._feed,), daemon=True, name="orchestrator-branches"
        )
        self._thread.start()

    @property
    def done(self) -> bool:
        """Every level of every branch was submitted (or feeding failed)."""
        thread = self._thread
        return self.started and thread is not None and not thread.is_alive()

    def stop(self) -> None:
        """Submit what is left at once (a cancelled run answers it ``Cancelled``) and wait."""
        self.stopping = True
        if not self.started:
            self.start()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def real(self, held: Deferred, timeout: float | None = None) -> Any:
        """The runner's handle of ``held``, starting the group and waiting for it to be
        submitted; None if ``timeout`` passes first."""
        self.start()
        with self._changed:
            if not self._changed.wait_for(lambda: held.real is not None or self._error, timeout):
                return None
            if held.real is None:
                raise RuntimeError("Feeding bounded mapped branches failed") from self._error
            return held.real

    def _feed(self) -> None:
        token = active.running_flow.set(None)  # as the flow run submits
        window = InFlightWindow(self.runner, self.bound)
        try:
            chunk = max(1, self.bound // CHUNK_SHARE)
            for start in range(0, self.count, chunk):
                stop = min(self.count, start + chunk)
                if not self.stopping:
                    window.admit(stop - start)
                for level in self.levels:
                    self._submit(level, start, stop)
                for level in self.levels:
                    with self._changed:  # a call outside the group may keep it meanwhile
                        drop = level.released = bool(level.consumers) and not level.kept
                    if drop:  # its readers have it: the backend may forget it
                        self.runner.release([h.real for h in level.handles[start:stop]])
                for i in range(start, stop):
                    window.add([lv.handles[i].real for lv in self.levels if not lv.consumers])
        except BaseException as err:  # told to every waiter: nothing waits forever
            with self._changed:
                self._error = err
                self._changed.notify_all()
            raise
        finally:
            window.close()
            active.running_flow.reset(token)

    def _submit(self, level: _Level, start: int, stop: int) -> None:
        calls = [with_real_handles(level.calls[i]) for i in range(start, stop)]
        for i in range(start, stop):
            level.calls[i] = None  # built once, dropped once submitted
        children = ChildCalls(level.task, len(calls), calls.__getitem__, priority=level.depth)
        handles = self.runner.submit_many(children)
        with self._changed:
            for held, handle in zip(level.handles[start:stop], handles, strict=True):
                held.real = handle
                self.held_of[handle] = held
            self._changed.notify_all()


def deferred_in(call: TaskRunCall | None) -> list[Deferred]:
    if call is None:
        return []
    return [s for ref in call.upstream for s in ref.sources if type(s) is Deferred]


def with_real_handles(call: TaskRunCall | None) -> TaskRunCall:
    """``call`` with every held upstream replaced by its submitted handle."""
    assert call is not None, "a held call is submitted once"
    refs = tuple(_real_ref(ref) for ref in call.upstream)
    return dataclasses.replace(call, upstream=refs)


def _real_ref(ref: UpstreamRef) -> UpstreamRef:
    if not any(type(s) is Deferred for s in ref.sources):
        return ref
    sources = tuple(s.real if type(s) is Deferred else s for s in ref.sources)
    return dataclasses.replace(ref, sources=sources)


def waiting_state(held: Deferred) -> State:
    """What a held run shows until it is submitted."""
    return Pending(
        "Waiting for room among the mapped branches alive at once "
        f"(max_in_flight={held.group.bound})."
    )
