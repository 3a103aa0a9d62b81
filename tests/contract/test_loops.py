"""Looping tasks (``LOOP``) on every runner: iterations see their number and the previous
result, each goes through the state handlers, and a retry reruns the failed iteration."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from orchestrator import Flow, context, task
from orchestrator.engine import TaskRunner, signals
from orchestrator.engine.state import Looped, Retrying, Success
from taskrun.execute import run_task
from taskrun.retries import SINGLE_PASS, RetryLater

from .dag_api import NO_DELAY, run

pytestmark = pytest.mark.timeout(120)


@task
def sum_to(limit: int) -> int:
    """1 + 2 + ... + limit, one iteration per term."""
    count = context.task_loop_count if "task_loop_count" in context else 1
    total = context.get("task_loop_result", 0) + count
    if count < limit:
        raise signals.LOOP(result=total)
    return total


def test_a_looping_task_runs_each_iteration_with_its_count_and_the_last_result(task_runner):
    with Flow("loop") as flow:
        result = sum_to(4)
    state, states = run(flow, task_runner)
    assert state.is_successful()
    assert type(states[result]) is Success
    assert states[result].result() == 10


def test_every_iteration_goes_through_the_state_handlers(task_runner, record):
    def handler(obj: Any, old: Any, new: Any) -> Any:
        record((type(old).__name__, type(new).__name__, new.context.get("task_loop_count")))
        return new

    @task(state_handlers=[handler])
    def three_times():
        count = context.get("task_loop_count", 1)
        if count < 3:
            raise signals.LOOP(f"iteration {count}", result=count)
        return count

    with Flow("loop") as flow:
        result = three_times()
    _, states = run(flow, task_runner)
    assert states[result].result() == 3
    assert record.events == [
        ("Pending", "Running", None),
        ("Running", "Looped", 1),
        ("Looped", "Running", None),
        ("Running", "Looped", 2),
        ("Looped", "Running", None),
        ("Running", "Success", None),
    ]


def test_a_failed_iteration_is_retried_at_its_own_index_not_from_the_first(task_runner, record):
    @task(max_retries=1, retry_delay=NO_DELAY)
    def fails_once_in_the_third():
        count = context.get("task_loop_count", 1)
        record((count, context.task_run_count, context.get("task_loop_result")))
        if count == 3 and context.task_run_count == 1:
            raise RuntimeError("iteration 3 breaks once")
        if count < 4:
            raise signals.LOOP(result=count * 10)
        return count

    with Flow("loop") as flow:
        result = fails_once_in_the_third()
    _, states = run(flow, task_runner)
    assert states[result].result() == 4
    assert record.events == [(1, 1, None), (2, 1, 10), (3, 1, 20), (3, 2, 20), (4, 1, 30)]


# ---- one run at a time -----------------------------------------------------------------------
def test_a_looped_state_given_as_the_initial_state_resumes_after_its_iteration():
    seen: list[tuple[int, int]] = []

    @task
    def resumes():
        seen.append((context.task_loop_count, context.task_loop_result))
        return context.task_loop_result

    state = run_task(resumes, initial_state=Looped(result=7, loop_count=5))
    assert state.result() == 7
    assert seen == [(6, 7)]


def test_a_retry_between_iterations_in_a_single_pass_keeps_the_loop_position():
    @task(max_retries=1, retry_delay=NO_DELAY)
    def breaks_in_the_second():
        count = context.get("task_loop_count", 1)
        if count == 2 and context.task_run_count == 1:
            raise RuntimeError("second iteration breaks once")
        if count < 3:
            raise signals.LOOP(result=count)
        return (count, context.task_loop_result)

    retrying = run_task(breaks_in_the_second, sleep=SINGLE_PASS)
    assert type(retrying) is Retrying
    assert (retrying.context["task_loop_count"], retrying.context["task_loop_result"]) == (2, 1)
    final = TaskRunner(breaks_in_the_second).run(state=retrying)
    assert final.result() == (3, 2)


def test_a_retry_waited_out_by_the_caller_resumes_the_loop_at_its_iteration():
    @task(max_retries=1, retry_delay=dt.timedelta(seconds=30))
    def breaks_in_the_third():
        count = context.get("task_loop_count", 1)
        if count == 3 and context.task_run_count == 1:
            raise RuntimeError("third iteration breaks once")
        if count < 4:
            raise signals.LOOP(result=count)
        return (count, context.task_loop_result)

    later = RetryLater()  # what a Dask worker passes: it waits, holding no thread
    retrying = run_task(breaks_in_the_third, sleep=later)
    assert (type(retrying), later.delay) == (Retrying, 30.0)
    assert later.resume().result() == (4, 3)


def test_each_iteration_logs_one_debug_line(caplog):
    with caplog.at_level(logging.DEBUG, logger="orchestrator.TaskRunner"):
        assert run_task(sum_to, inputs={"limit": 3}).result() == 6
    lines = [r.getMessage() for r in caplog.records if "looped" in r.getMessage()]
    assert lines == ["Task 'sum_to': iteration 1 looped.", "Task 'sum_to': iteration 2 looped."]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "looped" in r.getMessage())
