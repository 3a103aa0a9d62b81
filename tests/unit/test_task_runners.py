"""What the in-process task runners show beyond the shared contract: the thread pool's
non-blocking ``get_state`` and parallelism, reprs, and subclassing ``BaseTaskRunner``.

The contract every runner meets (``submit``/``wait``/``get_state``/``shape``/``given``)
is checked in ``tests/contract/test_task_runner_protocol.py``.
"""

from __future__ import annotations

import threading

import pytest

from orchestrator import Flow, Task, task
from orchestrator.task_runners import BaseTaskRunner, ConcurrentTaskRunner, SequentialTaskRunner
from taskrun.wire import TaskRunCall


@task
def produce():
    return [1, 2, 3]


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
