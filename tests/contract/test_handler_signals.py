"""State handlers that raise, on every runner: a signal moves the task to that signal's
state; any other error fails the task and is logged naming the task and the handler. And
every retried attempt logs one line, on the DAG path and on the ``@flow`` path."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from orchestrator import Flow, context, flow, task
from orchestrator.engine import signals
from orchestrator.engine.state import Failed, Paused, Skipped, Success

from .dag_api import NO_DELAY, run

pytestmark = pytest.mark.timeout(120)


def raise_on(kind: str, signal: Exception) -> Any:
    """A handler raising ``signal`` when the task moves to a state named ``kind``."""

    def handler(obj: Any, old: Any, new: Any) -> Any:
        if type(new).__name__ == kind:
            raise signal
        return new

    return handler


def test_a_handler_raising_skip_on_running_skips_the_task_before_its_body(task_runner, record):
    @task(state_handlers=[raise_on("Running", signals.SKIP("not today"))])
    def work():
        record("body")
        return 1

    with Flow("f") as flow:
        result = work()
    _, states = run(flow, task_runner)
    assert type(states[result]) is Skipped
    assert states[result].message == "not today"
    assert record.events == []


def test_a_handler_raising_pause_pauses_the_task(task_runner, record):
    @task(state_handlers=[raise_on("Running", signals.PAUSE("a person decides"))])
    def work():
        record("body")

    with Flow("f") as flow:
        result = work()
    state, states = run(flow, task_runner)
    assert type(states[result]) is Paused
    assert state.is_paused()
    assert record.events == []


def test_a_handler_raising_fail_on_success_fails_the_task_and_retries_apply(task_runner, record):
    @task(
        max_retries=1,
        retry_delay=NO_DELAY,
        state_handlers=[raise_on("Success", signals.FAIL("result rejected"))],
    )
    def work():
        record("body")
        return 1

    with Flow("f") as flow:
        result = work()
    _, states = run(flow, task_runner)
    assert type(states[result]) is Failed
    assert states[result].message == "result rejected"
    assert record.count("body") == 2


def test_a_handler_raising_retry_on_a_failure_retries_without_max_retries(task_runner, record):
    @task(retry_delay=NO_DELAY, state_handlers=[raise_on("Failed", signals.RETRY("once more"))])
    def work():
        record("body")
        if record.count("body") == 1:
            raise ValueError("first attempt")
        return "second"

    with Flow("f") as flow:
        result = work()
    _, states = run(flow, task_runner)
    assert states[result].result() == "second"
    assert record.count("body") == 2


def test_a_handler_raising_endrun_ends_in_its_state(task_runner):
    @task(state_handlers=[raise_on("Running", signals.ENDRUN(Success("given", result=42)))])
    def work():
        return 1

    with Flow("f") as flow:
        result = work()
    _, states = run(flow, task_runner)
    assert states[result].result() == 42
    assert states[result].message == "given"


def test_the_handlers_after_a_raising_one_are_not_called(task_runner, record):
    def later(obj: Any, old: Any, new: Any) -> Any:
        record(type(new).__name__)
        return new

    @task(state_handlers=[raise_on("Running", signals.SKIP("stop")), later])
    def work():
        return 1

    with Flow("f") as flow:
        work()
    run(flow, task_runner)
    assert "Running" not in record.events
    assert "Skipped" not in record.events


# ---- errors and log lines (this process: the log records are read here) ------------------------
def test_a_handler_raising_an_error_fails_the_task_and_logs_task_and_handler(caplog):
    def notify(obj: Any, old: Any, new: Any) -> Any:
        if new.is_successful():
            raise ConnectionError("chat is down")
        return new

    @task(state_handlers=[notify])
    def work():
        return 1

    with Flow("f") as flow:
        result = work()
    with caplog.at_level(logging.ERROR, logger="orchestrator.TaskRunner"):
        _, states = run(flow, None)
    assert type(states[result]) is Failed
    assert "state handler 'notify' raised ConnectionError('chat is down')" in (
        states[result].message
    )
    logged = [r for r in caplog.records if "handler 'notify' raised" in r.getMessage()]
    assert len(logged) == 1
    assert "Task 'work'" in logged[0].getMessage()
    assert logged[0].exc_info is not None


@task(max_retries=2, retry_delay=NO_DELAY)
def fails_twice(log: Any) -> str:
    if context.task_run_count < 3:
        raise ValueError(f"attempt {context.task_run_count}")
    return "third"


def _attempt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "next attempt in" in r.getMessage()]


def test_every_retried_attempt_logs_one_line_on_the_dag_path(caplog):
    with Flow("f") as dag:
        result = fails_twice(None)
    with caplog.at_level(logging.INFO, logger="orchestrator.TaskRunner"):
        _, states = run(dag, None)
    assert states[result].result() == "third"
    assert _attempt_lines(caplog) == [
        "Task 'fails_twice': attempt 1 ended 'Failed'; next attempt in 0 seconds.",
        "Task 'fails_twice': attempt 2 ended 'Failed'; next attempt in 0 seconds.",
    ]


def test_every_retried_attempt_logs_one_line_on_the_flow_path(caplog):
    @flow
    def body() -> str:
        return fails_twice(None).result()

    with caplog.at_level(logging.INFO, logger="orchestrator.TaskRunner"):
        assert body().result() == "third"
    lines = _attempt_lines(caplog)
    assert len(lines) == 2
    assert all("next attempt in 0 seconds" in line for line in lines)
