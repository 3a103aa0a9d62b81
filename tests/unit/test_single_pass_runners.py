"""Single passes of ``TaskRunner``, and runner-level state handlers (Prefect 1's engine).

``TaskRunner.run`` makes one pass: an attempt that will be retried ends the pass in its
``Retrying`` state; the caller runs the next pass with that state once it is due.
Runner handlers ``handler(task_runner, old, new)`` run after the task's own.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import cloudpickle
import pytest
from shared_objects import Recorder

from orchestrator import Flow, context, task
from orchestrator.engine import TaskRunner
from orchestrator.engine.state import Failed, Retrying, State, Success
from orchestrator.runs.runner_handlers import HandledTask
from orchestrator.task_runners import ConcurrentTaskRunner
from orchestrator.task_runners.concurrent import RetryTimer
from taskrun.wire import TaskRunCall

HOUR = dt.timedelta(hours=1)


@task(max_retries=2, retry_delay=dt.timedelta(0))
def fails_twice() -> int:
    if context.task_run_count < 3:
        raise ConnectionError(f"attempt {context.task_run_count} fails")
    return int(context.task_run_count)


@task(max_retries=1, retry_delay=HOUR)
def fails_once_then_waits_an_hour() -> str:
    if context.task_run_count == 1:
        raise ConnectionError("first attempt fails")
    return "second attempt"


def test_a_failed_attempt_with_retries_left_ends_the_pass_retrying():
    before = dt.datetime.now(dt.UTC)
    state = TaskRunner(fails_once_then_waits_an_hour).run()
    assert isinstance(state, Retrying)
    assert state.run_count == 1
    assert state.start_time is not None
    assert before + HOUR <= state.start_time <= dt.datetime.now(dt.UTC) + HOUR


def test_a_retrying_state_not_yet_due_comes_back_unchanged():
    runner = TaskRunner(fails_once_then_waits_an_hour)
    first = runner.run()
    assert runner.run(state=first) is first


def test_a_due_retrying_state_runs_the_next_attempt():
    runner = TaskRunner(fails_once_then_waits_an_hour)
    first = runner.run()
    due = Retrying(start_time=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), run_count=1)
    state = runner.run(state=due)
    assert isinstance(first, Retrying)
    assert state.is_successful()
    assert state.result() == "second attempt"


def test_a_naive_start_time_is_read_as_utc():
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    state = TaskRunner(fails_once_then_waits_an_hour).run(
        state=Retrying(start_time=past, run_count=1)
    )
    assert state.result() == "second attempt"


def test_with_no_retry_delay_each_pass_runs_one_attempt_until_success():
    runner = TaskRunner(fails_twice)
    passes = [runner.run()]
    while not passes[-1].is_finished():
        passes.append(runner.run(state=passes[-1]))
    assert [type(s).__name__ for s in passes] == ["Retrying", "Retrying", "Success"]
    assert [s.run_count for s in passes[:2]] == [1, 2]
    assert passes[-1].result() == 3


def test_the_last_attempt_fails_for_good():
    runner = TaskRunner(fails_twice.copy(max_retries=1))
    first = runner.run()
    final = runner.run(state=first)
    assert isinstance(first, Retrying)
    assert isinstance(final, Failed)


def test_runner_handlers_see_every_transition_after_the_task_handlers():
    calls: list[tuple[str, Any, str, str]] = []

    def task_handler(t: Any, old: State, new: State) -> None:
        calls.append(("task", t, type(old).__name__, type(new).__name__))

    def runner_handler(r: Any, old: State, new: State) -> None:
        calls.append(("runner", r, type(old).__name__, type(new).__name__))

    watched = fails_twice.copy(state_handlers=[task_handler])
    runner = TaskRunner(watched, state_handlers=[runner_handler])
    runner.run()
    assert calls == [
        ("task", watched, "Pending", "Running"),
        ("runner", runner, "Pending", "Running"),
        ("task", watched, "Running", "Failed"),
        ("runner", runner, "Running", "Failed"),
        ("task", watched, "Failed", "Retrying"),
        ("runner", runner, "Failed", "Retrying"),
    ]


def test_a_runner_handler_sees_the_state_the_task_handler_returned_and_may_replace_it():
    def task_handler(t: Any, old: State, new: State) -> State:
        return Success("from the task handler", 1) if new.is_successful() else new

    seen: list[object] = []

    def runner_handler(r: Any, old: State, new: State) -> State | None:
        if new.is_successful():
            seen.append(new.result())
            return Success("from the runner handler", 2)
        return None

    @task(state_handlers=[task_handler])
    def body() -> int:
        return 0

    state = TaskRunner(body, state_handlers=[runner_handler]).run()
    assert seen == [1]
    assert state.result() == 2


def test_on_failure_runs_before_the_runner_handlers():
    order: list[str] = []

    @task(on_failure=lambda t, s: order.append(f"on_failure {t.name}"))
    def broken() -> None:
        raise ValueError("no")

    TaskRunner(broken, state_handlers=[lambda r, o, n: order.append(type(n).__name__)]).run()
    assert order == ["Running", "on_failure broken", "Failed"]


def test_a_raising_runner_handler_fails_the_task_run_naming_it():
    def noisy(r: Any, old: State, new: State) -> None:
        raise RuntimeError("handler bug")

    @task
    def body() -> int:
        return 1

    state = TaskRunner(body, state_handlers=[noisy]).run()
    assert isinstance(state, Failed)
    assert "noisy" in str(state.message)


def test_a_runner_handler_that_is_not_callable_is_refused_naming_the_task():
    @task
    def body() -> int:
        return 1

    with pytest.raises(TypeError, match=r"'body'.*not callable"):
        TaskRunner(body, state_handlers=["not a function"])


def test_the_executor_option_is_accepted():
    @task
    def body() -> int:
        return 7

    assert TaskRunner(body).run(executor="ignored").result() == 7


def test_a_task_with_runner_handlers_pickles_with_them():
    handled = TaskRunner(fails_twice, state_handlers=[_module_handler]).runnable
    assert isinstance(handled, HandledTask)
    copy = cloudpickle.loads(cloudpickle.dumps(handled))  # as tasks are shipped to Dask
    assert copy.name == "fails_twice"
    assert [h.handler for h in copy.state_handlers] == [_module_handler]
    assert isinstance(copy.runner, TaskRunner)


def _module_handler(r: Any, old: State, new: State) -> None:
    return None


# ---- the thread-pool runner: a waiting retry holds no pool thread ------------------------------
def _waits_then_counts(recorder: Recorder) -> Any:
    @task(max_retries=1, retry_delay=dt.timedelta(seconds=0.3))
    def waits_then_counts() -> int:
        if context.task_run_count == 1:
            raise ConnectionError("first attempt fails")
        return recorder.count("other ran")

    return waits_then_counts


@pytest.mark.timeout(60)
def test_a_waiting_retry_leaves_the_only_pool_thread_to_other_task_runs():
    recorder = Recorder()

    @task
    def other() -> None:
        recorder("other ran")

    with Flow("one-thread") as flow:
        retried = _waits_then_counts(recorder)()
        other()
    state = flow.run(task_runner=ConcurrentTaskRunner(max_workers=1))
    # a retry sleeping in the pool thread would run its second attempt before `other`
    assert state.result()[retried].result() == 1


@pytest.mark.timeout(60)
def test_one_pool_thread_runs_a_map_whose_children_retry_and_their_downstream():
    @task(max_retries=2, retry_delay=dt.timedelta(seconds=0.01))
    def flaky(x: int) -> int:
        if context.task_run_count < 3:
            raise ConnectionError("not yet")
        return x

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    with Flow("one-thread-map") as flow:
        summed = total(flaky.map([1, 2, 3, 4]))
    state = flow.run(task_runner=ConcurrentTaskRunner(max_workers=1))
    assert state.result()[summed].result() == 10


def test_the_retry_timer_calls_functions_in_due_order_and_drops_the_rest_at_close():
    timer = RetryTimer("test-timer")
    called: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    timer.call_at(now + 0.02, lambda: (called.append("second"), done.set()))
    timer.call_at(now, lambda: called.append("first"))
    timer.call_at(now + 3600, lambda: called.append("never"))
    assert done.wait(10)
    timer.close()
    assert called == ["first", "second"]


@pytest.mark.timeout(60)
def test_a_run_cancelled_while_it_waits_for_its_retry_makes_no_further_attempt():
    recorder = Recorder()

    @task(max_retries=1, retry_delay=dt.timedelta(seconds=0.05))
    def flaky() -> None:
        recorder("attempt")
        raise ConnectionError("fails")

    with ConcurrentTaskRunner(max_workers=1) as runner:
        handle = runner.submit(TaskRunCall(flaky, "flaky-1", run_context={"executor_logs": False}))
        deadline = time.monotonic() + 30
        while not handle.live.is_retrying() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert handle.live.is_retrying()
        runner.cancel([handle])
        timer = runner._timer
        assert timer is not None
        while timer._heap and time.monotonic() < deadline:  # the retry comes due
            time.sleep(0.005)
        assert not timer._heap
    assert handle.future is not None
    assert handle.future.cancelled()
    assert recorder.count("attempt") == 1
