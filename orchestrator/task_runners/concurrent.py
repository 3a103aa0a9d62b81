"""ConcurrentTaskRunner: runs task runs in a thread pool of this process.

A run's thread first waits for its upstream handles. Runs are submitted in an
order that respects their dependencies and the pool is FIFO, so a waiting thread
only ever waits for runs that started before it: no deadlock.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
from collections.abc import Callable

from orchestrator.task_runners.base import BaseTaskRunner, FinalListener
from orchestrator.task_runners.listeners import Listeners
from taskrun.states import Pending, Running, State
from taskrun.wire import TaskRunCall, execute_call


class ThreadHandle:
    """A handle over a thread-pool future, with a live state for ``get_state``."""

    __slots__ = ("future", "live")

    def __init__(self, future: cf.Future[State] | None = None, live: State | None = None) -> None:
        self.future = future
        self.live = live or Pending()


class ConcurrentTaskRunner(BaseTaskRunner[ThreadHandle]):
    """Runs task runs concurrently on ``max_workers`` threads."""

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
        self._pool: cf.ThreadPoolExecutor | None = None
        self._listeners = Listeners()

    def start(self) -> None:
        self._pool = cf.ThreadPoolExecutor(self.max_workers, thread_name_prefix="orchestrator-task")
        self._listeners = Listeners()  # a copy of this runner must not share its listeners

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def submit(self, call: TaskRunCall) -> ThreadHandle:
        if self._pool is None:
            raise RuntimeError(
                "ConcurrentTaskRunner is not started; use it as a context manager "
                "or pass it to a flow run."
            )
        handle = ThreadHandle()
        ctx = contextvars.copy_context()
        handle.future = self._pool.submit(ctx.run, self._execute, call, handle)
        if self._listeners:
            handle.future.add_done_callback(lambda _: self._listeners.tell(handle))
        return handle

    def watch(self, listener: FinalListener[ThreadHandle]) -> Callable[[], None]:
        return self._listeners.add(listener)

    def _execute(self, call: TaskRunCall, handle: ThreadHandle) -> State:
        sources = [[self.wait(h) for h in ref.sources] for ref in call.upstream]
        handle.live = Running("Task run is executing.")
        final = execute_call(call, sources)  # type: ignore[arg-type]  # wait() without timeout
        handle.live = final
        return final

    def given(self, state: State) -> ThreadHandle:
        return ThreadHandle(None, state)

    def wait(self, handle: ThreadHandle, timeout: float | None = None) -> State | None:
        if handle.future is None:
            return handle.live
        try:
            return handle.future.result(timeout=timeout)
        except cf.TimeoutError:
            return None

    def get_state(self, handle: ThreadHandle) -> State:
        return handle.live

    def __repr__(self) -> str:
        return f"ConcurrentTaskRunner(max_workers={self.max_workers})"
