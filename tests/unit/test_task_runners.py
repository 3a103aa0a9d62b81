"""The task-runner contract, checked against both in-process runners.

``TaskRunCall`` in, handles out; ``wait``/``get_state``/``shape`` answer about them.
The flow runner speaks only this contract, so the same flows run on every runner.
"""

from __future__ import annotations

import threading

import pytest

from orchestrator import Flow, Task, task
from orchestrator.core import Edge
from orchestrator.engine.state import Failed, Success
from orchestrator.task_runners import BaseTaskRunner, ConcurrentTaskRunner, SequentialTaskRunner
from taskrun.wire import ResultShape, TaskRunCall, UpstreamRef


@task
def produce():
    return [1, 2, 3]


@task
def consume(x):
    return sum(x)


def test_submit_returns_a_handle_whose_wait_gives_the_final_state(task_runner):
    with task_runner:
        handle = task_runner.submit(TaskRunCall(task=produce, name="produce-0"))
        state = task_runner.wait(handle)
    assert isinstance(state, Success)
    assert state.result() == [1, 2, 3]


def test_upstream_handles_in_a_call_feed_the_downstream_run(task_runner):
    edge = Edge(produce, consume, key="x")
    with task_runner:
        upstream = task_runner.submit(TaskRunCall(task=produce, name="produce-0"))
        downstream = task_runner.submit(
            TaskRunCall(task=consume, name="consume-0", upstream=(UpstreamRef(edge, (upstream,)),))
        )
        assert task_runner.wait(downstream).result() == 6


def test_given_wraps_a_known_state(task_runner):
    with task_runner:
        handle = task_runner.given(Failed("known"))
        assert task_runner.wait(handle).message == "known"
        assert task_runner.get_state(handle).message == "known"


def test_shape_reports_the_length_of_a_result_without_the_data(task_runner):
    with task_runner:
        handle = task_runner.submit(TaskRunCall(task=produce, name="produce-0"))
        assert task_runner.shape(handle) == ResultShape(True, 3)
        failed = task_runner.given(Failed("no"))
        assert task_runner.shape(failed) == ResultShape(False)
        scalar = task_runner.given(Success(result=5))
        shape = task_runner.shape(scalar)
        assert (shape.successful, shape.length) == (True, None)
        assert "its value 5 is not a sequence" in shape.problem


def test_get_state_does_not_block_while_a_run_executes():
    release = threading.Event()

    @task
    def blocked():
        release.wait(5)
        return "released"

    with ConcurrentTaskRunner(max_workers=2) as runner:
        handle = runner.submit(TaskRunCall(task=blocked, name="blocked-0"))
        assert runner.wait(handle, timeout=0.01) is None
        assert not runner.get_state(handle).is_finished()
        release.set()
        assert runner.wait(handle).result() == "released"
        assert runner.get_state(handle).result() == "released"


def test_the_concurrent_runner_must_be_started():
    with pytest.raises(RuntimeError, match="ConcurrentTaskRunner is not started"):
        ConcurrentTaskRunner().submit(TaskRunCall(task=produce, name="produce-0"))


def test_independent_tasks_run_at_the_same_time_on_the_concurrent_runner():
    barrier = threading.Barrier(3, timeout=5)

    @task
    def meet(i):
        barrier.wait()  # only passes when all three run at once
        return i

    with Flow("parallel") as flow:
        results = [meet(i) for i in range(3)]
    states = flow.run(task_runner=ConcurrentTaskRunner(max_workers=3)).result()
    assert [states[r].result() for r in results] == [0, 1, 2]


def test_runners_have_readable_reprs():
    assert repr(SequentialTaskRunner()) == "SequentialTaskRunner()"
    assert repr(ConcurrentTaskRunner(max_workers=2)) == "ConcurrentTaskRunner(max_workers=2)"


def test_a_custom_runner_only_needs_the_abstract_methods():
    class Recording(SequentialTaskRunner):
        def __init__(self) -> None:
            self.names: list[str] = []

        def submit(self, call: TaskRunCall):
            self.names.append(call.name)
            return super().submit(call)

    runner = Recording()
    with Flow("f") as flow:
        a = Task(name="a")()
        Task(name="b")(upstream_tasks=[a])
    assert flow.run(task_runner=runner).is_successful()
    assert [n.rsplit("-", 2)[0] for n in runner.names] == ["a", "b"]
    assert issubclass(Recording, BaseTaskRunner)
