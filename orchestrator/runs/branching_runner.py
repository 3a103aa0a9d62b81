"""BranchingRunner: a ``@flow`` run's task runner, holding bounded maps back.

``FlowRun`` hands its calls to this wrapper of the flow run's ``ControlledRunner``. Calls
pass through, except maps that ``runs.function_branches`` holds and feeds branch by branch:
their children's handles are ``Deferred`` until submitted, and every method here answers
for those (``Pending`` while held; ``wait`` starts the group and waits for the run). A call
that reads held runs starts their group and waits until they are submitted, so the task
runner only ever sees submitted handles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from orchestrator.journal.controlled_runner import ControlledRunner
from orchestrator.runs.function_branches import (
    BranchFeed,
    Deferred,
    deferred_in,
    waiting_state,
    with_real_handles,
)
from orchestrator.task_runners.base import BaseTaskRunner, ChildCalls, FinalListener
from taskrun.states import State
from taskrun.wire import ResultShape, TaskRunCall


class BranchingRunner(BaseTaskRunner[Any]):
    """``inner`` for one ``@flow`` run; ``flow_bound`` is the flow's ``max_in_flight``.

    ``holding=False`` (a resumed run: its calls are matched one by one) holds nothing.
    """

    def __init__(self, inner: ControlledRunner, flow_bound: int | None, holding: bool) -> None:
        self.inner = inner
        self.shares_local_storage = inner.shares_local_storage
        self.flow_bound = flow_bound
        self._holding = holding
        self._groups: list[BranchFeed] = []
        self._held_of: dict[Any, Deferred] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    @property  # the inner runner's answer, not a class's
    def submits_in_bulk(self) -> bool:  # type: ignore[override]
        return self.inner.submits_in_bulk

    def __getattr__(self, attribute: str) -> Any:
        """The flow run's runner's own (``journal``, ``client``, ...)."""
        if attribute == "inner" or attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def holds(self, task: Any) -> bool:
        """Whether a map of ``task`` may be held (its children go through ``submit_many``)."""
        return self._holding and (self._bound(task) is not None or bool(self._groups))

    def _bound(self, task: Any) -> int | None:
        bounds = [b for b in (self.flow_bound, getattr(task, "max_in_flight", None)) if b]
        return min(bounds) if bounds else None

    # ---- lifetime -----------------------------------------------------------------------------
    def start(self) -> None:
        self.inner.start()

    def shutdown(self) -> None:
        """Stop feeding (a run that ended before it needed its held runs cancels them)."""
        unfinished = [group for group in self._groups if not group.done]
        if unfinished:
            reason = "the flow run ended before its bounded mapped branches were submitted"
            self.inner.cancel_flow_run(reason)
        for group in unfinished:
            group.stop()
        self.inner.shutdown()

    def finish(self, state: State, as_given: bool = False) -> State:
        return self.inner.finish(state, as_given)

    def cancel_flow_run(self, reason: str | None = None, task_message: str | None = None) -> bool:
        """Cancel the run; held runs are submitted at once and so end ``Cancelled``."""
        cancelled = self.inner.cancel_flow_run(reason, task_message)
        for group in self._groups:
            group.stopping = True
            group.start()
        return cancelled

    # ---- submitting ---------------------------------------------------------------------------
    def submit(self, call: TaskRunCall) -> Any:
        return self.inner.submit(self._ready(call))

    def submit_many(self, calls: Sequence[TaskRunCall]) -> list[Any]:
        if not len(calls):
            return []
        task = calls.task if isinstance(calls, ChildCalls) else calls[0].task
        task = getattr(task, "task", task)  # a NamedTask runs its task
        if not self.holds(task):
            return self.inner.submit_many(calls)
        built = list(calls)  # held calls are kept built until their chunk is submitted
        held = [d for call in built for d in deferred_in(call)]
        bound = self._bound(task)
        if held and held[0].group.joins(built):
            return held[0].group.add_level(built, task, bound)
        if not held and bound is not None:
            group = BranchFeed(self.inner, bound, len(built), self._held_of)
            self._groups.append(group)
            return group.add_level(built, task, None)
        return self.inner.submit_many([self._ready(call) for call in built])

    def _ready(self, call: TaskRunCall) -> TaskRunCall:
        """``call`` reading submitted runs only: a held one's group starts, and this waits
        until it is submitted (refused when its level was released)."""
        held = deferred_in(call)
        if not held:
            return call
        reader = getattr(call.task, "name", call.name)
        for deferred in held:
            deferred.group.keep(deferred, reader)
        for deferred in held:
            deferred.group.real(deferred)
        return with_real_handles(call)

    # ---- states -------------------------------------------------------------------------------
    def given(self, state: State) -> Any:
        return self.inner.given(state)

    def given_run(self, task_name: str, run_name: str, map_index: int | None, state: State) -> Any:
        return self.inner.given_run(task_name, run_name, map_index, state)

    def wait(self, handle: Any, timeout: float | None = None) -> State | None:
        if type(handle) is not Deferred:
            return self.inner.wait(handle, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        real = handle.group.real(handle, timeout)
        if real is None:
            return None
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.inner.wait(real, left)

    def get_state(self, handle: Any) -> State:
        if type(handle) is Deferred:
            if handle.real is None:
                return waiting_state(handle)
            handle = handle.real
        return self.inner.get_state(handle)

    def shape(self, handle: Any, flattened: bool = False) -> ResultShape:
        if type(handle) is Deferred:
            handle = handle.group.real(handle)
        return self.inner.shape(handle, flattened)

    def release(self, handle: Any) -> None:
        handles = handle if isinstance(handle, list) else [handle]
        self.inner.release([_submitted(h) for h in handles if _submitted(h) is not None])

    def cancel(self, handles: Sequence[Any]) -> None:
        for handle in handles:
            self.cancel_run(handle)

    def cancel_run(self, handle: Any) -> bool:
        """Cancel one run (a held one once its group submitted it); False if it was over."""
        if type(handle) is Deferred:
            handle = handle.group.real(handle)
        return self.inner.cancel_run(handle)

    def describe(self, handle: Any) -> dict[str, Any]:
        real = _submitted(handle)
        return {} if real is None else self.inner.describe(real)

    def gathering(self) -> AbstractContextManager[None]:
        return self.inner.gathering()

    def watch(self, listener: FinalListener[Any]) -> Callable[[], None] | None:
        """Tells of held runs by their ``Deferred`` handles, as the flow run knows them."""
        held_of = self._held_of
        return self.inner.watch(lambda handle: listener(held_of.get(handle, handle)))

    def __repr__(self) -> str:
        return repr(self.inner)


def _submitted(handle: Any) -> Any:
    """The runner's handle behind ``handle`` (None for a held run not submitted yet)."""
    return handle.real if type(handle) is Deferred else handle
