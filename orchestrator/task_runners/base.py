"""The task-runner contract: how flow runners hand task runs to an execution backend.

A task runner turns ``TaskRunCall`` objects into *handles* (its own futures) and
answers questions about them. The DAG flow runner and ``@flow`` runs speak only
this contract, so every backend (sequential, threads, Dask) runs the same flows.
Handles are opaque to callers; upstream refs inside a call hold handles of the
same runner. Each runner says what its handles are (``BaseTaskRunner[DoneHandle]``,
``BaseTaskRunner[DaskHandle]``, ...), so its methods are checked against its own handle
type; code that drives any runner holds them as ``AnyTaskRunner``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeAlias, TypeVar, overload

from taskrun.states import State
from taskrun.wire import ResultShape, TaskRunCall

if TYPE_CHECKING:
    from orchestrator.journal.records import StateRecord

#: a runner's handle type: what ``submit`` returns and every other method takes back
HandleT = TypeVar("HandleT")
#: told a handle whose run became final (see ``BaseTaskRunner.watch``)
FinalListener = Callable[[HandleT], None]


class ChildCalls(Sequence[TaskRunCall]):
    """The task-run calls of one mapped task's children, each built when read (by position,
    so reading one twice builds the same call): what flow runners hand ``submit_many``, so
    a map over a million children never holds a million calls at once."""

    def __init__(
        self, task: Any, count: int, build: Callable[[int], TaskRunCall], priority: int = 0
    ) -> None:
        self.task = task
        #: a scheduling hint for backends that order work (Dask's ``priority=``): higher
        #: runs first among ready runs (deeper levels of bounded mapped branches)
        self.priority = priority
        self._count = count
        self._build = build

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, position: int) -> TaskRunCall: ...

    @overload
    def __getitem__(self, position: slice) -> list[TaskRunCall]: ...

    def __getitem__(self, position: int | slice) -> TaskRunCall | list[TaskRunCall]:
        if isinstance(position, slice):
            return [self._build(i) for i in range(*position.indices(self._count))]
        index = position + self._count if position < 0 else position
        if not 0 <= index < self._count:
            raise IndexError(f"child {position} of {self._count}")
        return self._build(index)


class BaseTaskRunner(abc.ABC, Generic[HandleT]):
    """Executes task runs; a context manager that starts and shuts down its resources.

    ``HandleT`` is the runner's own handle type.
    """

    #: ``submit_many`` submits a mapped task's children together (the flow runner then hands
    #: them over in one call instead of one by one)
    submits_in_bulk: ClassVar[bool] = False
    #: this process sees the disk its task runs write to (``runs.target_probe`` then finds
    #: a mapped task's existing targets here, in one pass)
    shares_local_storage: bool = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def start(self) -> None:
        """Acquire resources (threads, a cluster); called once per flow run."""

    def shutdown(self) -> None:
        """Release what ``start`` acquired."""

    @abc.abstractmethod
    def submit(self, call: TaskRunCall) -> HandleT:
        """Start the task run (or queue it behind its upstream) and return a handle."""

    def submit_many(self, calls: Sequence[TaskRunCall]) -> list[HandleT]:
        """Submit several task runs (a mapped task's children) and return a handle for each,
        in order. A backend may batch them; by default each is submitted on its own.

        ``calls`` may build each call when it is read (flow runners pass ``ChildCalls`` for
        one task's children): read each once, in order.
        """
        return [self.submit(call) for call in calls]

    def gathering(self) -> AbstractContextManager[None]:
        """A block whose submissions a backend may send together when it ends (or sooner:
        when one of them is waited for, or enough are gathered), instead of one by one.
        Flow runners wrap one pass over a DAG in it. By default nothing changes."""
        return nullcontext()

    def release(self, handle: HandleT | Sequence[HandleT]) -> None:
        """A hint that no task run will be submitted with ``handle`` (or, for a list, these
        handles) as an upstream any more: a backend may then forget the result where it
        lives. The handle's state stays available."""

    def cancel(self, handles: Sequence[HandleT]) -> None:
        """Stop these task runs if they have not finished (a flow run was cancelled): a
        backend drops what is queued and cancels what it can; by default nothing. Their
        states then end ``Cancelled`` (or as they finished, if they were too far along)."""

    @abc.abstractmethod
    def given(self, state: State) -> HandleT:
        """A handle for a state known up front (``task_states`` of a run)."""

    def given_run(
        self, task_name: str, run_name: str, map_index: int | None, state: State
    ) -> HandleT:
        """A handle for a task run that reached ``state`` without being submitted (a target
        found before the run: ``runs.target_probe``); a journal records it as a run."""
        return self.given(state)

    @abc.abstractmethod
    def wait(self, handle: HandleT, timeout: float | None = None) -> State | None:
        """The final state of the run behind ``handle``; None if ``timeout`` passes first."""

    @abc.abstractmethod
    def get_state(self, handle: HandleT) -> State:
        """The current state without blocking (Pending, Running or final)."""

    def final_record(self, handle: HandleT) -> StateRecord | None:
        """The journal's record of the run's final (or paused) state; None while it runs.
        A backend that keeps a summary answers from it without building the state."""
        from orchestrator.journal.records import state_record

        state = self.get_state(handle)
        return state_record(state) if state.is_finished() or state.is_paused() else None

    def shape(self, handle: HandleT, flattened: bool = False) -> ResultShape:
        """Mapping metadata of a finished run (blocks until it finishes)."""
        from taskrun.wire import shape_of

        state = self.wait(handle)
        assert state is not None
        return shape_of(state, flattened)

    def describe(self, handle: HandleT) -> dict[str, Any]:
        """Backend details for displays (e.g. a Dask key and dashboard link)."""
        return {}

    def watch(self, listener: FinalListener[HandleT]) -> Callable[[], None] | None:
        """Call ``listener(handle)`` whenever a task run submitted from now on becomes final,
        so a caller learns of finished runs without polling every handle.

        The listener may be called from any thread (a backend's event loop, a pool thread)
        and must return quickly: queue the handle and look at it elsewhere. A run that
        fails without the backend noticing on its own (a Dask worker died) may only be seen
        by ``get_state``/``wait``, so callers still look now and then.

        Returns a function that stops the calls, or None when this runner cannot tell
        (the default): the caller then polls ``get_state``.
        """
        return None

    def __repr__(self) -> str:
        return f"{self.name}()"


#: a task runner of any kind, as code that drives runners without knowing which holds it
AnyTaskRunner: TypeAlias = BaseTaskRunner[Any]
