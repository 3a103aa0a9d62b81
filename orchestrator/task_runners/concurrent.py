"""ConcurrentTaskRunner: runs task runs in a thread pool of this process.

A task run goes to the pool only once every upstream handle it reads is final (a done
callback per upstream counts them down), so no pool thread ever waits for another run:
any pool size runs any flow without deadlock. A retry delay holds no thread either: the
executor hands a run that must wait back in a ``RetryLater`` (``taskrun.retries``), the
runner's one timer thread keeps it in a heap by due time, and puts its next attempt on
the pool when it is due, as the Dask side does on its event loop
(``taskrun.dask.retry_waits``):

    submit --(upstream final)--> pool: first attempt --Retrying--> timer heap
                                 pool: next attempt  <--(due)----- timer heap
                                 ... final state -> handle.future, listeners

In a single pass (run-context key ``single_pass``, set by ``FlowRunner.run``) the executor
gets ``SINGLE_PASS`` instead: a run to retry ends ``Retrying`` there.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import contextvars
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence

from orchestrator.task_runners.base import BaseTaskRunner, FinalListener
from orchestrator.task_runners.listeners import Listeners
from taskrun.retries import SINGLE_PASS, RetryLater
from taskrun.states import Cancelled, Failed, Pending, Running, State
from taskrun.wire import TaskRunCall, execute_call

logger = logging.getLogger("orchestrator.task_runners")


class ThreadHandle:
    """A handle over one task run: ``future`` gets its final state; ``live`` its current
    state, for ``get_state``. A handle for a given state has no future."""

    __slots__ = ("future", "live")

    def __init__(self, future: cf.Future[State] | None = None, live: State | None = None) -> None:
        self.future = future
        self.live = live or Pending()


class RetryTimer:
    """One thread calling each function given to ``call_at`` once its due time
    (``time.monotonic()``) has come, earliest first; started at the first call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()  # ties keep the order of the calls
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_at(self, due: float, function: Callable[[], None]) -> None:
        with self._changed:
            heapq.heappush(self._heap, (due, next(self._order), function))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._changed.notify()

    def close(self) -> None:
        """Stop the thread; functions not yet due are dropped."""
        with self._changed:
            self._closed = True
            self._changed.notify()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._closed and not self._is_due():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._changed.wait(wait)
                if self._closed:
                    return
                due = []
                while self._is_due():
                    due.append(heapq.heappop(self._heap)[2])
            for function in due:
                try:
                    function()
                except Exception:  # boundary: the timer outlives one bad call
                    logger.exception("A retry timer call failed")

    def _is_due(self) -> bool:
        return bool(self._heap) and self._heap[0][0] <= time.monotonic()


class ConcurrentTaskRunner(BaseTaskRunner[ThreadHandle]):
    """Runs task runs concurrently on ``max_workers`` threads."""

    shares_local_storage = True

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
        self._pool: cf.ThreadPoolExecutor | None = None
        self._listeners = Listeners()
        self._timer: RetryTimer | None = None
        #: runs submitted and not final yet (``shutdown`` waits for them)
        self._unfinished: set[cf.Future[State]] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._pool = cf.ThreadPoolExecutor(self.max_workers, thread_name_prefix="orchestrator-task")
        self._listeners = Listeners()  # a copy of this runner must not share its listeners
        self._timer = RetryTimer("orchestrator-retry-timer")
        self._unfinished = set()
        self._lock = threading.Lock()

    def shutdown(self) -> None:
        with self._lock:
            unfinished = list(self._unfinished)
        cf.wait(unfinished)  # runs waiting for a retry or an upstream run are not dropped
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def submit(self, call: TaskRunCall) -> ThreadHandle:
        if self._pool is None:
            raise RuntimeError(
                "ConcurrentTaskRunner is not started; use it as a context manager "
                "or pass it to a flow run."
            )
        future: cf.Future[State] = cf.Future()
        handle = ThreadHandle(future)
        with self._lock:
            self._unfinished.add(future)
        future.add_done_callback(self._forget)
        if self._listeners:
            future.add_done_callback(lambda _: self._listeners.tell(handle))
        ctx = contextvars.copy_context()
        upstream = [h.future for ref in call.upstream for h in ref.sources]
        pending = [f for f in upstream if f is not None and not f.done()]
        if not pending:
            self._put(ctx, self._first_attempt, call, handle, ctx)
            return handle
        left = [len(pending)]
        count_lock = threading.Lock()

        def one_done(_: object) -> None:
            with count_lock:
                left[0] -= 1
                ready = left[0] == 0
            if ready:
                self._put(ctx, self._first_attempt, call, handle, ctx)

        for upstream_future in pending:
            upstream_future.add_done_callback(one_done)
        return handle

    def cancel(self, handles: Sequence[ThreadHandle]) -> None:
        """Runs not started yet never start (one executing finishes); their futures end
        cancelled, which ``wait`` callers see (the flow run shows them ``Cancelled``)."""
        for handle in handles:
            if handle.future is not None and not handle.live.is_running():
                handle.future.cancel()

    def watch(self, listener: FinalListener[ThreadHandle]) -> Callable[[], None]:
        return self._listeners.add(listener)

    def _put(self, ctx: contextvars.Context, function: Callable[..., None], *args: object) -> None:
        pool = self._pool
        assert pool is not None, "runs are put on the pool only between start and shutdown"
        pool.submit(ctx.run, function, *args)

    def _first_attempt(
        self, call: TaskRunCall, handle: ThreadHandle, ctx: contextvars.Context
    ) -> None:
        if handle.future is not None and handle.future.cancelled():
            return  # cancelled while it waited for its upstream or a pool thread (issue 14)
        try:
            sources = [[self._final(h) for h in ref.sources] for ref in call.upstream]
            handle.live = Running("Task run is executing.")
            if call.run_context.get("single_pass"):
                self._settle(handle, None, execute_call(call, sources, sleep=SINGLE_PASS), ctx)
                return
            later = RetryLater()
            self._settle(handle, later, execute_call(call, sources, sleep=later), ctx)
        except Exception as err:  # boundary: the handle must get a state whatever happens
            self._settle(handle, None, _runner_error(call.name, err), ctx)

    def _next_attempt(
        self, handle: ThreadHandle, later: RetryLater, ctx: contextvars.Context
    ) -> None:
        if handle.future is not None and handle.future.cancelled():
            return  # cancelled while it waited for its next attempt: no attempt runs
        handle.live = Running("Task run is executing.")
        self._settle(handle, later, later.resume(), ctx)  # resume() never raises

    def _settle(
        self,
        handle: ThreadHandle,
        later: RetryLater | None,
        state: State,
        ctx: contextvars.Context,
    ) -> None:
        """``state`` final: the handle's; ``Retrying`` in ``later``: resumed when due."""
        handle.live = state
        if later is None or not later.is_waiting:
            assert handle.future is not None
            with contextlib.suppress(cf.InvalidStateError):  # cancelled meanwhile: it stays so
                handle.future.set_result(state)
            return
        timer = self._timer
        assert timer is not None, "a run waits only between start and shutdown"
        due = time.monotonic() + later.delay
        timer.call_at(due, lambda: self._put(ctx, self._next_attempt, handle, later, ctx))

    def _forget(self, future: cf.Future[State]) -> None:
        with self._lock:
            self._unfinished.discard(future)

    def _final(self, handle: ThreadHandle) -> State:
        """The state of an upstream run that is over (a cancelled one: ``Cancelled``)."""
        if handle.future is not None and handle.future.cancelled():
            return Cancelled("Task run was cancelled before it finished.")
        state = self.wait(handle, 0)
        assert state is not None, "a run starts only once its upstream runs are final"
        return state

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


def _runner_error(name: str, err: Exception) -> State:
    logger.exception("Task run %r: unexpected error in the thread-pool runner", name)
    return Failed(
        f"Orchestrator error while running task run {name!r} on the thread pool: {err!r}. "
        "This is a bug in the orchestrator, please report it.",
        err,
    )
