"""Running tasks and flows: the single-task ``TaskRunner``, retry states, timeouts, state
and flow handlers, on the default runner.

What must hold on every task runner (triggers, skips, signals, retries, timeouts and
handlers inside flow runs) is in ``tests/contract``. Retry delays are tiny.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

import orchestrator
from orchestrator import Flow, task
from orchestrator.engine import TaskRunner
from orchestrator.engine.state import Paused, Retrying, Running, State, Success

NO_DELAY = dt.timedelta(0)


@task
def fails():
    raise ValueError("upstream broke")


@task
def succeeds():
    return "ok"


def _passes(runner: TaskRunner) -> State:
    """Single passes of ``runner`` (Prefect 1's ``TaskRunner.run``) until the task run is
    over, each retry run once it is due."""
    state = runner.run()
    while state.is_retrying():
        wait = (state.start_time - dt.datetime.now(dt.UTC)).total_seconds()
        time.sleep(max(0.0, wait))
        state = runner.run(state=state)
    return state


# ---- retries -----------------------------------------------------------------------------------
def test_retry_on_accepts_subclasses_of_the_listed_types():
    attempts = []

    @task(max_retries=1, retry_delay=NO_DELAY, retry_on=OSError)
    def flaky():
        attempts.append(1)
        raise ConnectionError("a kind of OSError")

    _passes(TaskRunner(flaky))
    assert len(attempts) == 2


def test_retrying_states_carry_the_attempt_count_and_when_the_next_attempt_is_due():
    seen = []

    def watch(obj, old, new):
        seen.append(new)
        return new

    attempts = []

    @task(max_retries=1, retry_delay=dt.timedelta(seconds=0.01), state_handlers=[watch])
    def flaky():
        attempts.append(orchestrator.context.task_run_count)
        if len(attempts) == 1:
            raise ValueError("first")

    before = dt.datetime.now(dt.UTC)
    _passes(TaskRunner(flaky))
    assert [type(s).__name__ for s in seen] == [
        "Running",
        "Failed",
        "Retrying",
        "Running",
        "Success",
    ]
    retrying = seen[2]
    assert isinstance(retrying, Retrying)
    assert retrying.run_count == 1
    assert retrying.start_time >= before + dt.timedelta(seconds=0.01)
    assert attempts == [1, 2]  # context.task_run_count counts attempts


# ---- timeouts ----------------------------------------------------------------------------------
def test_a_timed_out_task_is_retried():
    @task(timeout=0.05, max_retries=1, retry_delay=NO_DELAY)
    def slow_then_fast():  # runs in a child process: it counts attempts by the context
        if orchestrator.context.task_run_count == 1:
            time.sleep(0.3)
        return "fast"

    assert _passes(TaskRunner(slow_then_fast)).result() == "fast"


def test_a_task_within_its_timeout_keeps_its_context():
    @task(timeout=5)
    def reads_context():
        return orchestrator.context.task_name

    assert TaskRunner(reads_context).run().result() == "reads_context"


# ---- task state handlers -------------------------------------------------------------------------
def test_a_state_handler_may_replace_the_new_state():
    def censor(obj, old, new):
        return new.with_result("hidden") if new.is_successful() else new

    @task(state_handlers=[censor])
    def secret():
        return "password"

    assert TaskRunner(secret).run().result() == "hidden"


def test_a_raising_on_failure_fails_the_task_naming_it():
    def broken(t, state):
        raise OSError("pager is down")

    @task(on_failure=broken)
    def work():
        raise ValueError("x")

    state = TaskRunner(work).run()
    assert "Task 'work': on_failure raised OSError('pager is down')" in state.message


def test_on_failure_fires_for_a_trigger_failure_too():
    calls = []

    @task(on_failure=lambda t, state: calls.append(type(state).__name__))
    def downstream():
        pass

    with Flow("f") as flow:
        downstream(upstream_tasks=[fails])
    flow.run()
    assert calls == ["TriggerFailed"]


# ---- flow state handlers -------------------------------------------------------------------------
def test_flow_on_failure_fires_only_for_a_failed_flow_run():
    calls = []
    with Flow("failing", on_failure=lambda flow, state: calls.append(flow.name)) as failing:
        fails()
    with Flow("passing", on_failure=lambda flow, state: calls.append(flow.name)) as passing:
        succeeds()
    failing.run()
    passing.run()
    assert calls == ["failing"]


def test_a_raising_flow_handler_fails_the_flow_run_but_keeps_the_task_states():
    def notify(flow, old, new):
        if new.is_finished():
            raise ConnectionError("chat is down")
        return new

    with Flow("notified", state_handlers=[notify]) as flow:
        result = succeeds()
    state = flow.run()
    assert state.is_failed()
    assert "Flow 'notified': state handler 'notify' raised ConnectionError('chat is down')" in (
        state.message
    )
    assert state.result()[result].result() == "ok"


def test_a_flow_handler_raising_before_the_run_starts_runs_nothing(record):
    def refuse(flow, old, new):
        raise PermissionError("not today")

    @task
    def work():
        record("ran")

    with Flow("refused", state_handlers=[refuse]) as flow:
        work()
    state = flow.run()
    assert state.is_failed()
    assert record.events == []


def test_flow_handlers_must_be_callable():
    from orchestrator.errors import FlowDefinitionError

    with pytest.raises(
        FlowDefinitionError, match=r"Flow 'f': state_handlers contains non-callables"
    ):
        Flow("f", state_handlers=["print"])
    with pytest.raises(FlowDefinitionError, match=r"Flow 'f': on_failure='x' is not callable"):
        Flow("f", on_failure="x")


def test_a_flow_copy_keeps_its_handlers():
    def handler(flow, old, new):
        return new

    assert Flow("f", state_handlers=[handler]).copy().state_handlers == [handler]


# ---- the flow state ----------------------------------------------------------------------------
def test_a_flow_with_no_tasks_succeeds():
    assert Flow("empty").run().is_successful()


def test_a_paused_flow_run_returns_at_once_with_the_task_paused():
    from orchestrator.triggers import manual_only

    @task(trigger=manual_only)
    def approve():
        return "approved"

    with Flow("f") as flow:
        result = approve()
    state = flow.run()
    assert state.is_paused()
    assert isinstance(state.result()[result], Paused)


def test_running_state_is_shown_to_handlers_only_while_the_body_runs():
    seen = []

    def handler(obj, old, new):
        seen.append(new)
        return new

    @task(state_handlers=[handler])
    def work():
        assert isinstance(seen[-1], Running)
        return 1

    assert TaskRunner(work).run().result() == 1


# ---- the engine entry points -------------------------------------------------------------------
def test_task_runner_passes_data_edges_and_inputs_as_arguments():
    from orchestrator.core import Edge, Task

    @task
    def add(x, y):
        return x + y

    upstream = {Edge(Task(name="a"), add, key="x"): Success(result=1)}
    assert TaskRunner(task=add).run(upstream_states=upstream, inputs={"y": 2}).result() == 3


def test_task_runner_starts_from_a_given_state():
    from orchestrator.engine.state import Resume
    from orchestrator.triggers import manual_only

    @task(trigger=manual_only)
    def approve():
        return "approved"

    assert isinstance(TaskRunner(approve).run(), Paused)
    assert TaskRunner(approve).run(state=Resume()).result() == "approved"
    assert TaskRunner(approve).run(state=Success(result="earlier")).result() == "earlier"


def test_a_concurrent_runner_object_can_serve_several_flow_runs():
    from orchestrator.task_runners import ConcurrentTaskRunner

    runner = ConcurrentTaskRunner(max_workers=2)
    with Flow("f") as flow:
        result = succeeds()
    for _ in range(2):
        assert flow.run(task_runner=runner).result()[result].result() == "ok"
