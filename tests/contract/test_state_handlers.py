"""State handlers on every runner: task handlers and ``on_failure`` run where the task
runs; flow handlers run in the flow-run process.
"""

from __future__ import annotations

from orchestrator import Flow, task
from orchestrator.engine.state import Failed

from .dag_api import NO_DELAY, run, succeeds


# ---- task state handlers ------------------------------------------------------------------------
def test_state_handlers_see_running_then_success(task_runner, record):
    def handler(obj, old, new):
        record((obj.name, type(old).__name__, type(new).__name__))
        return new

    @task(state_handlers=[handler])
    def work():
        return 1

    with Flow("f") as flow:
        work()
    run(flow, task_runner)
    assert record.events == [("work", "Pending", "Running"), ("work", "Running", "Success")]


def test_a_raising_state_handler_fails_the_task_and_is_not_retried(task_runner, record):
    def breaks_on_success(obj, old, new):
        if new.is_successful():
            raise RuntimeError("handler broke")
        return new

    @task(max_retries=2, retry_delay=NO_DELAY, state_handlers=[breaks_on_success])
    def work():
        record("body")
        return 1

    with Flow("f") as flow:
        result = work()
    _, states = run(flow, task_runner)
    assert isinstance(states[result], Failed)
    assert "state handler 'breaks_on_success' raised RuntimeError('handler broke')" in (
        states[result].message
    )
    assert record.events == ["body"]


def test_on_failure_fires_once_per_failed_attempt_and_never_on_success(task_runner, record):
    @task(
        max_retries=2,
        retry_delay=NO_DELAY,
        on_failure=lambda t, state: record(("on_failure", t.name, type(state).__name__)),
    )
    def flaky():
        record("attempt")
        if record.count("attempt") < 3:
            raise ValueError("not yet")
        return "done"

    with Flow("f") as flow:
        result = flaky()
    _, states = run(flow, task_runner)
    assert states[result].result() == "done"
    assert record.events == ["attempt", ("on_failure", "flaky", "Failed")] * 2 + ["attempt"]


# ---- flow state handlers ------------------------------------------------------------------------
def test_flow_state_handlers_see_running_then_the_final_state(task_runner):
    seen = []

    def handler(flow, old, new):
        seen.append((flow.name, type(old).__name__, type(new).__name__))
        return new

    with Flow("watched", state_handlers=[handler]) as flow:
        succeeds()
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    assert seen == [("watched", "Pending", "Running"), ("watched", "Running", "Success")]
