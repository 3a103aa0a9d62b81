"""How futures, task-run states and flow runs show in notebooks (HTML) and as text."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from orchestrator import flow, task
from orchestrator.runs.flow_run_state import TaskRunStates, aggregate
from orchestrator.runs.futures import Future, present_state, result_type_name
from orchestrator.task_runners import ConcurrentTaskRunner, SequentialTaskRunner
from taskrun.errors import TriggerFailedError
from taskrun.states import (
    Completed,
    DeferredResult,
    Failed,
    Pending,
    Running,
    Success,
    TriggerFailed,
)


@task
def add(x, y=0):
    return x + y


@task
def fail():
    raise ValueError("boom")


class DescribingRunner(SequentialTaskRunner):
    """A sequential runner that reports backend details, as the Dask runner does."""

    def describe(self, handle: Any) -> dict[str, Any]:
        return {"key": "add-0-abc", "dashboard": "http://127.0.0.1:8787/status"}


def test_success_is_presented_as_completed_without_message():
    shown = present_state(Success("Task run succeeded.", 3, duration=0.5))
    assert repr(shown) == "Completed(message=None, type=COMPLETED)"
    assert (shown.result(), shown.duration) == (3, 0.5)


class CountingDeferred(DeferredResult):
    """A deferred result that counts how often it is loaded."""

    __slots__ = ("loads",)
    type_name = "DataFrame"

    def __init__(self) -> None:
        self.loads = 0

    def load(self) -> Any:
        self.loads += 1
        return 42


def test_presenting_and_showing_a_deferred_result_does_not_load_it():
    deferred = CountingDeferred()
    shown = present_state(Success("Task run succeeded.", deferred))
    assert "result: DataFrame" in shown._repr_html_()
    assert result_type_name(shown) == "DataFrame"
    assert deferred.loads == 0
    assert shown.result() == 42
    assert deferred.loads == 1


def test_trigger_failed_is_presented_as_pending_named_not_ready():
    error = TriggerFailedError("add", "Some upstream tasks did not succeed: 'fail-1-0'.")
    shown = present_state(TriggerFailed(str(error), error))
    assert isinstance(shown, Pending)
    assert shown.name == "NotReady"
    assert "'fail-1-0'" in shown.message


@pytest.mark.parametrize("state", [Failed("x"), Running(), Pending(), Completed(None, 1)])
def test_other_states_are_presented_unchanged(state):
    assert present_state(state) is state


def test_state_html_shows_its_name_in_its_colour_and_the_result_type():
    text = Completed(None, 3)._repr_html_()
    assert f"color:{Completed.color}" in text
    assert ">Completed<" in text
    assert "result: int" in text


def test_failed_state_html_shows_message_and_exception_type():
    text = Failed("Task run encountered an exception.", ValueError("x"))._repr_html_()
    assert "Task run encountered an exception." in text
    assert "result: ValueError" in text
    assert f"color:{Failed.color}" in text


def test_flow_state_html_is_a_table_of_its_task_runs_by_state():
    @flow(task_runner=DescribingRunner())
    def mixed():
        add(1)
        add(2)
        fail()

    state = mixed()
    text = state._repr_html_()
    assert "1/3 states failed." in text
    rows = re.findall(r"<tr><td[^>]*>(\w+)</td><td>(\d+)</td><td[^>]*>([^<]*)</td></tr>", text)
    assert [(name, count) for name, count, _ in rows] == [("Completed", "2"), ("Failed", "1")]
    assert re.fullmatch(r"add-[0-9a-f]{8}-0, add-[0-9a-f]{8}-1", rows[0][2])


def test_task_run_states_summary_groups_names_by_state():
    states = TaskRunStates([Completed(), Failed("x"), Completed()], ["a-0", "b-0", "a-1"])
    assert states.summary() == "3 task runs\n  Completed: 2 (a-0, a-1)\n  Failed: 1 (b-0)"
    assert states == [Completed(), Failed("x"), Completed()]


def test_aggregate_counts_not_ready_runs_apart_from_failed_ones():
    not_ready = Pending("upstream failed", name="NotReady")
    state = aggregate([Failed("x"), not_ready, not_ready, Completed()])
    assert repr(state) == "Failed(message='1/4 states failed.', type=FAILED)"


def test_future_html_and_text_of_a_finished_run():
    kept: list[Future[int]] = []

    @flow(task_runner=DescribingRunner())
    def one():
        kept.append(add(1))

    one()
    text = kept[0]._repr_html_()
    assert kept[0].name in text
    assert f"color:{Completed.color}" in text
    assert '<th style="text-align:left">Result type</th><td style="text-align:left">int' in text
    assert 'Dask key</th><td style="text-align:left">add-0-abc' in text
    assert '<a href="http://127.0.0.1:8787/status" target="_blank">' in text
    assert re.fullmatch(
        r"<Future 'add-[0-9a-f]{8}-0': Completed\(message=None, type=COMPLETED\)>", repr(kept[0])
    )


def test_future_html_while_running_shows_running_and_no_result_type():
    started, release = threading.Event(), threading.Event()
    shown: list[str] = []

    @task
    def blocked():
        started.set()
        assert release.wait(10)

    @flow(task_runner=ConcurrentTaskRunner())
    def watch():
        future = blocked()
        assert started.wait(10)
        shown.extend([future._repr_html_(), repr(future)])
        release.set()

    watch()
    assert ">Running<" in shown[0]
    assert "Result type" not in shown[0]
    assert shown[1].endswith("Running(message='Task run is executing.', type=RUNNING)>")


def test_flow_run_html_and_text_list_its_task_runs():
    @flow(name="Shown")
    def shown():
        add(1)
        fail()

    run = shown.submit()
    state = run.wait(timeout=10)
    assert state is not None
    assert state.is_failed()
    text = run._repr_html_()
    assert f"Flow run {run.name!r}" in text
    assert "'Shown'" in text
    assert ">Completed</td><td>1</td>" in text
    assert ">Failed</td><td>1</td>" in text
    assert repr(run) == (
        f"<FlowRun {run.name!r} of flow 'Shown': Failed(message='1/2 states "
        "failed.', type=FAILED), 2 task runs>"
    )


class ClosingResult(DeferredResult):
    """A result readable only while its runner is open (as results left on Dask are)."""

    __slots__ = ("runner", "value")
    type_name = "int"

    def __init__(self, runner: DeferringRunner, value: Any) -> None:
        self.runner, self.value = runner, value

    def load(self) -> Any:
        if self.runner.closed:
            raise LookupError("the runner has closed")
        return self.value


class DeferringRunner(SequentialTaskRunner):
    """A sequential runner whose successful results stay 'on the cluster' until read."""

    closed = False

    def shutdown(self) -> None:
        self.closed = True

    def submit(self, call: Any) -> Any:
        handle = super().submit(call)
        if handle.state.is_successful():
            handle.state = handle.state.with_result(ClosingResult(self, handle.state.data))
        return handle


def test_flow_result_is_fetched_before_the_runner_closes():
    @flow(task_runner=DeferringRunner())
    def returns_future():
        return add(add(1), 1)

    assert returns_future().result() == 2


def test_task_run_results_of_a_flow_returning_nothing_stay_on_the_runner():
    @flow(task_runner=DeferringRunner())
    def nothing():
        add(1)
        fail()

    completed, failed = nothing().result(raise_on_failure=False)
    assert isinstance(failed.result(raise_on_failure=False), ValueError)
    with pytest.raises(LookupError, match="closed"):
        completed.result()
