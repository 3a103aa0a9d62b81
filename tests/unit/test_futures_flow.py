"""The ``@flow`` futures API: what only the thread pool can show, and the decorator itself.

Futures observed while their run executes need a runner that runs tasks beside the
flow body (``ConcurrentTaskRunner``); the rest checks ``@flow`` arguments and runner
choice. Calls, dependencies and final states on every runner are in
``tests/contract``. Blocking tasks wait on events, never on ``sleep``.
"""

from __future__ import annotations

import threading

import pytest

from orchestrator import flow, task
from orchestrator.runs.flow_decorator import FlowParameterError
from orchestrator.task_runners import ConcurrentTaskRunner, SequentialTaskRunner


@task
def add(x, y=0):
    return x + y


# ---- futures ----------------------------------------------------------------------------------
def test_futures_report_running_while_executing_and_completed_after():
    started, release = threading.Event(), threading.Event()

    @task
    def blocked():
        started.set()
        assert release.wait(10)
        return "done"

    @flow(task_runner=ConcurrentTaskRunner())
    def watch():
        future = blocked()
        assert started.wait(10)
        seen = [future.get_state().name, future.wait(timeout=0.01), future.done()]
        release.set()
        seen += [future.wait().name, future.done(), future.result(), future.exception()]
        return seen

    assert watch().result() == ["Running", None, False, "Completed", True, "done", None]


def test_future_result_with_timeout_raises_timeout_error_naming_the_run():
    release = threading.Event()

    @task
    def blocked():
        assert release.wait(10)

    @flow(task_runner=ConcurrentTaskRunner())
    def impatient():
        future = blocked()
        try:
            future.result(timeout=0.01)
        finally:
            release.set()

    with pytest.raises(TimeoutError, match=r"Task run 'blocked-[0-9a-f]{8}-0' did not finish"):
        impatient().result()


# ---- flows ------------------------------------------------------------------------------------
def test_flow_arguments_are_checked_against_the_signature_before_running(record):
    @flow(name="Add Projects to DB")
    def main(project_names, db_file="x.db"):
        record("ran")

    with pytest.raises(
        FlowParameterError,
        match=r"Flow 'Add Projects to DB': missing a required "
        r"argument: 'project_names'\. Its parameters are main\(project_names, "
        r"db_file='x.db'\)",
    ):
        main()
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        main(["a"], colour="red")
    assert record.events == []


def test_flow_parameter_error_pickles():
    import pickle

    error = FlowParameterError("f", "missing a required argument: 'x'", "f(x)")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_a_task_called_outside_any_flow_runs_directly():
    assert add(1, 2) == 3


def test_task_runner_may_be_given_as_a_class_and_is_fresh_per_run():
    @flow(task_runner=ConcurrentTaskRunner)
    def threaded():
        return add(1)

    assert threaded().result() == 1
    assert threaded().result() == 1
    assert isinstance(threaded.task_runner, ConcurrentTaskRunner)


def test_task_runner_that_is_not_a_runner_is_rejected_naming_the_flow():
    with pytest.raises(TypeError, match="Flow 'bad': task_runner='dusk' is not a task runner name"):
        flow(name="bad", task_runner="dusk")(lambda: None)


def test_default_task_runner_is_sequential():
    @flow
    def plain():
        return None

    assert isinstance(plain.task_runner, SequentialTaskRunner)
    assert plain.name == "plain"
    assert plain.is_flow


def test_run_with_parameters_dict_runs_the_flow():
    @flow
    def adder(x, y):
        return add(x, y)

    assert adder.run(parameters={"x": 1, "y": 2}).result() == 3


def test_add_done_callback_fires_once_the_run_is_over_and_at_once_when_it_already_is():
    release, called = threading.Event(), threading.Event()
    seen: list[str] = []

    @task
    def gated():
        assert release.wait(10)
        return 7

    @flow(task_runner=ConcurrentTaskRunner())
    def watched():
        future = gated()
        future.add_done_callback(lambda f: (seen.append(f"later:{f.result()}"), called.set()))
        assert seen == []  # registering never blocks, and the run is not over yet
        release.set()
        assert called.wait(10)
        future.add_done_callback(lambda f: seen.append(f"now:{f.get_state().name}"))
        return list(seen)

    assert watched().result() == ["later:7", "now:Completed"]
