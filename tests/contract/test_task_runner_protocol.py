"""The task-runner contract itself, on every runner.

``TaskRunCall`` in, handles out; ``wait``/``get_state``/``shape``/``given`` answer about
them, and ``submit_many`` submits mapped children. The flow runner speaks only this
contract, so the same flows run on every runner.
"""

from __future__ import annotations

from typing import Any

from orchestrator import task
from orchestrator.core import Edge
from orchestrator.engine.state import Failed, Success
from orchestrator.task_runners import BaseTaskRunner
from taskrun.wire import ResultShape, TaskRunCall, UpstreamRef

from .dag_api import add_one, numbers, total


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


def test_the_runner_contract_submit_wait_get_state_shape_given(
    task_runner: BaseTaskRunner[Any],
) -> None:
    edge = Edge(numbers, total, key="xs")
    with task_runner:
        produced = task_runner.submit(TaskRunCall(task=numbers, name="numbers-0"))
        summed = task_runner.submit(
            TaskRunCall(task=total, name="total-0", upstream=(UpstreamRef(edge, (produced,)),))
        )
        assert task_runner.wait(summed).result() == 10
        assert task_runner.get_state(summed).result() == 10
        assert task_runner.shape(produced) == ResultShape(True, 4)
        given = task_runner.given(Failed("known"))
        assert task_runner.wait(given).message == "known"
        assert task_runner.shape(given) == ResultShape(False)
        children = task_runner.submit_many(
            [
                TaskRunCall(
                    task=add_one,
                    name=f"add_one-0-{i}",
                    map_index=i,
                    upstream=(
                        UpstreamRef(
                            Edge(numbers, add_one, key="x", mapped=True), (produced,), index=i
                        ),
                    ),
                )
                for i in range(4)
            ]
        )
        assert [task_runner.wait(h).result() for h in children] == [2, 3, 4, 5]
