"""Retries and timeouts on every runner: signals, ``max_retries``, ``retry_on``, delays.

Retries run again within the same flow run; a trigger failure and ``ENDRUN`` are never
retried; a task past its ``timeout`` is ``TimedOut``. Retry delays are tiny.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import pytest

from orchestrator import Flow, context, task
from orchestrator.engine import signals
from orchestrator.engine.state import Failed, Skipped, TimedOut, TriggerFailed
from orchestrator.task_runners import BaseTaskRunner

from .dag_api import NO_DELAY, run


@task(max_retries=2, retry_delay=dt.timedelta(seconds=0))
def flaky(x: int) -> tuple[int, int]:
    if context.task_run_count < 2:
        raise RuntimeError("first attempt fails")
    return x, context.task_run_count


# ---- retries ------------------------------------------------------------------------------------
def test_retry_signal_retries_beyond_max_retries(task_runner, record):
    @task(max_retries=1, retry_delay=NO_DELAY)
    def insists():
        record("attempt")
        if len(record.events) < 4:
            raise signals.RETRY("again")
        return len(record.events)

    with Flow("f") as flow:
        result = insists()
    _, states = run(flow, task_runner)
    assert states[result].result() == 4


def test_a_failing_task_is_retried_max_retries_times_then_fails(task_runner, record):
    @task(max_retries=2, retry_delay=NO_DELAY)
    def always_fails():
        record("attempt")
        raise ValueError("still broken")

    with Flow("f") as flow:
        result = always_fails()
    _, states = run(flow, task_runner)
    assert isinstance(states[result], Failed)
    assert record.count("attempt") == 3


def test_a_trigger_failure_is_never_retried(task_runner, record):
    def counting_trigger(upstream_states):
        record("trigger")
        return False

    @task(max_retries=3, retry_delay=NO_DELAY, trigger=counting_trigger)
    def guarded():
        record("body")

    with Flow("f") as flow:
        result = guarded()
    _, states = run(flow, task_runner)
    assert isinstance(states[result], TriggerFailed)
    assert record.events == ["trigger"]


def test_endrun_is_final(task_runner, record):
    @task(max_retries=3, retry_delay=NO_DELAY)
    def ending():
        record("attempt")
        raise signals.ENDRUN(Skipped("stopped on purpose"))

    with Flow("f") as flow:
        result = ending()
    _, states = run(flow, task_runner)
    assert type(states[result]) is Skipped
    assert states[result].message == "stopped on purpose"
    assert record.events == ["attempt"]


@pytest.mark.parametrize(("error", "attempts"), [(ConnectionError, 3), (KeyError, 1)])
def test_retry_on_retries_only_the_listed_exception_types(task_runner, record, error, attempts):
    @task(max_retries=2, retry_delay=NO_DELAY, retry_on=[ConnectionError, TimeoutError])
    def flaky():
        record("attempt")
        raise error("nope")

    with Flow("f") as flow:
        result = flaky()
    _, states = run(flow, task_runner)
    assert isinstance(states[result].result(raise_on_failure=False), error)
    assert record.count("attempt") == attempts


def test_retry_delay_waits_and_runs_again_within_the_same_flow_run(task_runner, record):
    @task(max_retries=2, retry_delay=dt.timedelta(seconds=0.05))
    def flaky():
        record(time.monotonic())
        if len(record.events) < 3:
            raise ConnectionError("try later")
        return "third time lucky"

    with Flow("f") as flow:
        result = flaky()
    state, states = run(flow, task_runner)
    assert states[result].result() == "third time lucky"
    assert state.is_successful()
    gaps = [later - earlier for earlier, later in itertools.pairwise(record.events)]
    assert len(gaps) == 2
    assert all(gap >= 0.05 for gap in gaps)  # a lower bound only: the delay was honoured


def test_retries_run_the_task_again_in_the_same_flow_run(task_runner: BaseTaskRunner[Any]) -> None:
    with Flow("retries") as flow:
        result = flaky.map(x=[7, 8])
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    assert state.result()[result].result() == [(7, 2), (8, 2)]


# ---- timeouts -----------------------------------------------------------------------------------
def test_a_task_that_runs_past_its_timeout_is_timed_out(task_runner):
    @task(timeout=0.05)
    def slow():
        time.sleep(0.3)

    with Flow("f") as flow:
        result = slow()
    state, states = run(flow, task_runner)
    assert isinstance(states[result], TimedOut)
    assert states[result].is_failed()
    assert "Task 'slow' timed out after 0.05 seconds" in states[result].message
    assert isinstance(states[result].result(raise_on_failure=False), TimeoutError)
    assert state.is_failed()
