"""``FlowRunner.run`` is a single pass (Prefect 1); ``flow.run()`` completes the run.

On every task runner: a task whose attempt will be retried ends the pass ``Retrying``,
its downstream tasks stay ``Pending``, the flow state is ``Running``; another pass with
``task_states=`` continues. ``task_states`` semantics (Paused, Running, Mapped children),
``state=``, ``return_tasks``, runner handlers and ``terminal_state_handler``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from shared_objects import Recorder

from orchestrator import Flow, context, task
from orchestrator.engine import FlowRunner
from orchestrator.engine.state import (
    Failed,
    Mapped,
    Paused,
    Pending,
    Resume,
    Retrying,
    Running,
    Scheduled,
    State,
    Success,
)
from orchestrator.errors import RunOptionError

pytestmark = pytest.mark.timeout(120)

HOUR = dt.timedelta(hours=1)


@task(max_retries=1, retry_delay=dt.timedelta(0))
def flaky(x: int) -> int:
    if context.task_run_count == 1:
        raise ConnectionError("first attempt fails")
    return x


@task
def double(x: int) -> int:
    return 2 * x


@task
def numbers() -> list[int]:
    return [1, 2, 3]


def _flaky_child(recorder: Recorder) -> Any:
    @task(max_retries=1, retry_delay=dt.timedelta(0))
    def flaky_child(x: int) -> int:
        if x == 2 and context.task_run_count == 1:
            raise ConnectionError("child 2 fails once")
        recorder(("ran", x, context.task_run_count))
        return 10 * x

    return flaky_child


def _recorded_child(recorder: Recorder) -> Any:
    @task
    def recorded_child(x: int) -> int:
        recorder(("ran", x))
        return 10 * x

    return recorded_child


def _chain() -> tuple[Flow, Any, Any]:
    with Flow("single-pass") as flow:
        first = flaky(1)
        second = double(first)
    return flow, first, second


def _passes(flow: Flow, runner: Any, limit: int = 5) -> list[State]:
    """Passes of ``FlowRunner.run`` until the flow run is over."""
    flow_runner = FlowRunner(flow)
    states = [flow_runner.run(task_runner=runner, return_tasks=flow.tasks)]
    while states[-1].is_running() and len(states) < limit:
        given = states[-1].result()
        states.append(flow_runner.run(task_runner=runner, task_states=given,
                                      return_tasks=flow.tasks))  # fmt: skip
    return states


def test_a_pass_ends_a_task_to_retry_retrying_and_its_downstream_pending(task_runner):
    flow, first, second = _chain()
    state = FlowRunner(flow).run(task_runner=task_runner, return_tasks=flow.tasks)
    assert isinstance(state, Running)
    assert isinstance(state.result()[first], Retrying)
    assert state.result()[first].run_count == 1
    assert isinstance(state.result()[second], Pending)


def test_a_second_pass_with_the_first_pass_states_finishes_the_run(task_runner):
    flow, _first, second = _chain()
    passes = _passes(flow, task_runner)
    assert [type(s).__name__ for s in passes] == ["Running", "Success"]
    assert passes[-1].result()[second].result() == 2


def test_flow_run_still_completes_retries_in_one_call(task_runner):
    flow, first, second = _chain()
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    assert state.result()[second].result() == 2
    assert state.result()[first].run_count == 2


def test_return_tasks_default_to_none_for_a_pass_and_to_all_for_flow_run():
    flow, first, second = _chain()
    assert FlowRunner(flow).run().result() == {}
    assert set(flow.run().result()) == {first, second}


def test_an_unknown_return_task_fails_the_run_before_it_starts():
    flow, _, _ = _chain()
    with pytest.raises(RunOptionError, match="return_tasks names task 'numbers'"):
        FlowRunner(flow).run(return_tasks=[numbers])


def test_only_the_pending_child_of_a_mapped_task_runs_again(task_runner):
    recorder = Recorder()
    with Flow("map-pass") as flow:
        children = _flaky_child(recorder).map(numbers())
    passes = _passes(flow, task_runner)
    assert [type(s).__name__ for s in passes] == ["Running", "Success"]
    assert isinstance(passes[0].result()[children], Mapped)
    assert [s.name for s in passes[0].result()[children].map_states] == [
        "Success", "Retrying", "Success",
    ]  # fmt: skip
    assert passes[-1].result()[children].result() == [10, 20, 30]
    assert sorted(recorder.events) == [("ran", 1, 1), ("ran", 2, 2), ("ran", 3, 1)]


def test_a_mapped_state_with_missing_children_runs_only_those(task_runner):
    recorder = Recorder()
    with Flow("map-missing") as flow:
        children = _recorded_child(recorder).map(numbers())
    earlier = Mapped(map_states=[Success(result=-1)])  # child 0 kept, 1 and 2 missing
    state = flow.run(task_runner=task_runner, task_states={children: earlier})
    assert state.result()[children].result() == [-1, 20, 30]
    assert sorted(recorder.events) == [("ran", 2), ("ran", 3)]


def test_a_paused_task_stays_paused_and_a_running_one_is_returned_as_is(task_runner):
    flow, first, second = _chain()
    paused, running = Paused("waiting for approval"), Running("elsewhere")
    for given in (paused, running):
        state = FlowRunner(flow).run(
            task_runner=task_runner, task_states={first: given}, return_tasks=flow.tasks
        )
        assert state.result()[first] is given
        assert isinstance(state.result()[second], Pending)


def test_resume_runs_a_paused_task(task_runner):
    flow, first, second = _chain()
    state = flow.run(task_runner=task_runner, task_states={first: Resume()})
    assert state.result()[second].result() == 2


def test_a_scheduled_task_not_yet_due_is_not_run_in_a_pass(task_runner):
    flow, first, second = _chain()
    later = Scheduled(start_time=dt.datetime.now(dt.UTC) + HOUR)
    state = FlowRunner(flow).run(
        task_runner=task_runner, task_states={first: later}, return_tasks=flow.tasks
    )
    assert isinstance(state, Running)
    kept = state.result()[first]  # the same state (a copy, from a Dask worker)
    assert (type(kept), kept.start_time) == (Scheduled, later.start_time)
    assert isinstance(state.result()[second], Pending)


def test_flow_run_waits_for_a_given_start_time_then_runs_the_task(task_runner):
    flow, first, second = _chain()
    soon = Retrying(start_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.2), run_count=1)
    state = flow.run(task_runner=task_runner, task_states={first: soon})
    assert state.is_successful()
    assert state.result()[second].result() == 2


def test_a_finished_flow_state_is_returned_as_it_is():
    flow, _, _ = _chain()
    done = Success("earlier run")
    assert FlowRunner(flow).run(state=done) is done


def test_a_flow_scheduled_for_later_is_not_started():
    flow, _, _ = _chain()
    later = Scheduled(start_time=dt.datetime.now(dt.UTC) + HOUR)
    assert FlowRunner(flow).run(state=later) is later


def test_a_running_flow_state_continues_without_a_new_transition():
    seen: list[str] = []
    flow, first, second = _chain()
    runner = FlowRunner(flow, state_handlers=[lambda r, o, n: seen.append(n.name)])
    state = runner.run(state=Running("resumed"), task_states={first: Success(result=5)},
                       return_tasks=flow.tasks)  # fmt: skip
    assert state.is_successful()
    assert state.result()[second].result() == 10
    assert seen == ["Success"]


def test_flow_runner_handlers_run_after_the_flow_handlers(task_runner):
    calls: list[tuple[str, Any, str]] = []
    flow, _, _ = _chain()
    flow.state_handlers = [lambda f, o, n: calls.append(("flow", f, n.name))]
    runner = FlowRunner(flow, state_handlers=[lambda r, o, n: calls.append(("runner", r, n.name))])
    runner.run(task_runner=task_runner)  # a pass that leaves the run Running: no transition
    assert calls == [("flow", flow, "Running"), ("runner", runner, "Running")]
    calls.clear()
    flow.run(task_runner=task_runner)
    assert [c[0] for c in calls] == ["flow", "flow"]


def test_task_runner_state_handlers_get_every_task_run(task_runner):
    flow, _first, _second = _chain()
    recorder = Recorder()

    def watch(runner: Any, old: State, new: State) -> None:
        recorder((runner.task.name, new.name))

    flow.run(task_runner=task_runner, task_runner_state_handlers=[watch])
    assert recorder.count(("flaky", "Retrying")) == 1
    assert recorder.count(("double", "Success")) == 1


def test_a_terminal_state_handler_may_replace_the_final_state(task_runner):
    seen: list[Any] = []

    def soften(flow: Flow, state: State, reference: set[State]) -> State | None:
        seen.append((flow.name, state.name, sorted(s.name for s in reference)))
        return Success("failures are fine here", state.result()) if state.is_failed() else None

    @task
    def breaks() -> None:
        raise ValueError("broken")

    with Flow("soft", terminal_state_handler=soften) as flow:
        breaks()
    state = flow.run(task_runner=task_runner)
    assert state.is_successful()
    assert state.message == "failures are fine here"
    assert seen == [("soft", "Failed", ["Failed"])]


def test_a_raising_terminal_state_handler_fails_the_run_naming_it():
    def broken_hook(flow: Flow, state: State, reference: set[State]) -> State:
        raise RuntimeError("hook bug")

    with Flow("hooked", terminal_state_handler=broken_hook) as flow:
        double(1)
    state = flow.run()
    assert isinstance(state, Failed)
    assert "broken_hook" in str(state.message)


def test_executor_is_accepted_as_the_task_runner():
    flow, _, second = _chain()
    state = FlowRunner(flow).run(executor="sequential", return_tasks=[second])
    assert isinstance(state, Running)


def test_a_raising_flow_runner_handler_fails_the_run_naming_it():
    def broken(runner: Any, old: State, new: State) -> None:
        if new.is_finished():
            raise RuntimeError("handler bug")

    flow, _, second = _chain()
    state = FlowRunner(flow, state_handlers=[broken]).run(
        task_states={flow.get_tasks("flaky")[0]: Success(result=1)}, return_tasks=[second]
    )
    assert isinstance(state, Failed)
    assert "FlowRunner state handler 'broken' raised" in str(state.message)
    assert state.result()[second].result() == 2  # the task states are kept


def test_a_pass_with_a_failed_reference_task_and_a_retry_left_keeps_the_flow_running(
    task_runner,
):
    @task
    def breaks() -> None:
        raise ValueError("broken for good")

    flow, first, _ = _chain()
    with flow:
        broken = breaks()
    state = FlowRunner(flow).run(task_runner=task_runner, return_tasks=flow.tasks)
    assert isinstance(state, Running)  # Prefect 1: the run is over only once all are done
    assert state.result()[broken].is_failed()
    assert state.result()[first].is_retrying()
    assert flow.run(task_runner=task_runner).is_failed()
