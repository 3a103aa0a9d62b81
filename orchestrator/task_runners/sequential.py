"""SequentialTaskRunner: runs each task run at submission, in the calling thread.

The default runner. Handles are ``Finished`` holders: by the time ``submit``
returns, the run is over, so waiting never blocks. Being one thread, it waits out a
retry delay by sleeping in that thread (nothing else could run meanwhile anyway); in a
single pass (run-context key ``single_pass``, set by ``FlowRunner.run``) a run to retry
ends ``Retrying`` instead, for the next pass.
"""

from __future__ import annotations

import time

from orchestrator.task_runners.base import BaseTaskRunner
from taskrun.retries import SINGLE_PASS
from taskrun.states import State
from taskrun.wire import TaskRunCall, execute_call


class DoneHandle:
    """A handle whose run already finished."""

    __slots__ = ("state",)

    def __init__(self, state: State) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<DoneHandle {self.state!r}>"


class SequentialTaskRunner(BaseTaskRunner[DoneHandle]):
    """Runs task runs one at a time, in order of submission, in this process."""

    shares_local_storage = True

    def submit(self, call: TaskRunCall) -> DoneHandle:
        # read ref by ref (a gather of N runs holds no N lists)
        sources = ([h.state for h in ref.sources] for ref in call.upstream)
        sleep = SINGLE_PASS if call.run_context.get("single_pass") else time.sleep
        return DoneHandle(execute_call(call, sources, sleep=sleep))

    def given(self, state: State) -> DoneHandle:
        return DoneHandle(state)

    def wait(self, handle: DoneHandle, timeout: float | None = None) -> State:
        return handle.state

    def get_state(self, handle: DoneHandle) -> State:
        return handle.state
