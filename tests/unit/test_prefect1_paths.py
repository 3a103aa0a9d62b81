"""Prefect 1 import paths and ``flow.run(executor=...)``: the names a Prefect 1 user types."""

from __future__ import annotations

import subprocess
import sys

import pytest

import orchestrator
from orchestrator import Flow, task
from orchestrator.errors import RunOptionError
from orchestrator.task_runners import ConcurrentTaskRunner, SequentialTaskRunner


def test_the_core_and_utilities_paths_are_the_same_objects():
    from orchestrator.core.edge import Edge
    from orchestrator.core.flow import Flow as CoreFlow
    from orchestrator.core.task import Task
    from orchestrator.utilities.tasks import task as utilities_task
    from orchestrator.utilities.tasks import unmapped

    assert (Edge, CoreFlow, Task) == (orchestrator.Edge, orchestrator.Flow, orchestrator.Task)
    assert (utilities_task, unmapped) == (orchestrator.task, orchestrator.unmapped)


def test_the_executor_names_are_the_task_runners():
    from orchestrator import executors

    assert executors.LocalExecutor is SequentialTaskRunner
    assert executors.LocalDaskExecutor is ConcurrentTaskRunner
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        executors.Nope  # noqa: B018 - the access is the test


def test_importing_the_executors_does_not_import_dask_until_dask_executor_is_asked_for():
    script = (
        "import sys\n"
        "import orchestrator.executors as e\n"
        "assert 'distributed' not in sys.modules, 'imported early'\n"
        "from orchestrator.task_runners.dask.runner import DaskTaskRunner\n"
        "assert e.DaskExecutor is DaskTaskRunner\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _two_step_flow() -> tuple[Flow, object]:
    @task
    def double(x):
        return 2 * x

    with Flow("executor-flow") as flow:
        result = double(double(3))
    return flow, result


@pytest.mark.parametrize(
    "executor", ["sequential", SequentialTaskRunner(), ConcurrentTaskRunner, "concurrent"]
)
def test_flow_run_takes_an_executor_like_a_task_runner(executor):
    flow, result = _two_step_flow()
    state = flow.run(executor=executor)
    assert state.is_successful()
    assert state.result()[result].result() == 12


def test_flow_run_refuses_both_executor_and_task_runner():
    flow, _ = _two_step_flow()
    with pytest.raises(RunOptionError, match=r"both task_runner=.* and executor=.* were given"):
        flow.run(executor="sequential", task_runner="sequential")


def test_a_bad_executor_is_refused_like_a_bad_task_runner():
    flow, _ = _two_step_flow()
    with pytest.raises(RunOptionError, match="is not a task runner"):
        flow.run(executor=42)
