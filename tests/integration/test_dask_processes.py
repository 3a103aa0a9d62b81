"""Task runs in worker *processes*: pickling, the worker plugin's log forwarding, results.

A session ``LocalCluster(processes=True)`` with two single-thread worker processes; a few
tests start a small cluster of their own when they need worker resources.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import pytest

from orchestrator import Flow, context, task
from orchestrator.engine.state import Failed, Success, TriggerFailed
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.handles import ResultNotAvailableError
from taskrun.wire import TaskRunCall

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LOCK = threading.Lock()


@task
def pid_of(x: int) -> tuple[int, int]:
    return x, os.getpid()


@task
def total(pairs: list[tuple[int, int]]) -> int:
    return sum(x for x, _ in pairs)


@task
def chatty(x: int) -> int:
    context.logger.info("working on %s in process %s", x, os.getpid())
    return x


@task(log_stdout=True)
def printer(x: int) -> int:
    print(f"printed {x}")
    return x


@task
def uses_lock(x: int) -> int:
    with LOCK:
        return x


@task
def returns_lock() -> Any:
    return threading.Lock()


@task
def identity(x: Any) -> Any:
    return x


@task
def big(size: int) -> list[int]:
    return list(range(size))


@pytest.fixture
def runner(process_address: str) -> DaskTaskRunner:
    return DaskTaskRunner(address=process_address)


def test_a_map_reduce_runs_in_the_worker_processes(runner: DaskTaskRunner) -> None:
    with Flow("processes") as flow:
        pairs = pid_of.map(x=list(range(12)))
        summed = total(pairs)
    state = flow.run(task_runner=runner)
    assert state.result()[summed].result() == 66
    pids = {pid for _, pid in state.result()[pairs].result()}
    assert os.getpid() not in pids


def test_worker_logs_and_prints_reach_this_process_tagged_with_the_task_run(
    runner: DaskTaskRunner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    with Flow("logging") as flow:
        chatty.map(x=[1, 2, 3])
        printer(7)
    assert flow.run(task_runner=runner).is_successful()
    working = [r for r in caplog.records if r.getMessage().startswith("working on ")]
    assert sorted(r.task_run_name.rsplit("-", 1)[1] for r in working) == ["0", "1", "2"]
    assert all(r.name == "orchestrator.Task: chatty" for r in working)
    assert all(str(os.getpid()) not in r.getMessage() for r in working)
    printed = [r for r in caplog.records if r.getMessage() == "printed 7"]
    assert len(printed) == 1
    assert printed[0].task_run_name.startswith("printer-")


def test_an_unpicklable_task_fails_alone_naming_the_object(runner: DaskTaskRunner) -> None:
    with Flow("unpicklable") as flow:
        locked = uses_lock(1)
        after = identity(locked)
        fine = pid_of.map(x=[1, 2])
    state = flow.run(task_runner=runner)
    failed = state.result()[locked]
    assert isinstance(failed, Failed)
    assert "Task 'uses_lock' cannot be sent to Dask workers" in failed.message
    assert "global 'LOCK'" in failed.message
    assert "lock" in failed.message
    assert isinstance(state.result()[after], TriggerFailed)
    assert [x for x, _ in state.result()[fine].result()] == [1, 2]


def test_an_unpicklable_argument_fails_its_task_naming_the_argument(runner: DaskTaskRunner) -> None:
    with Flow("bad-argument") as flow:
        held = identity(x=LOCK)
        fine = identity(x=5)
    state = flow.run(task_runner=runner)
    assert "argument 'x'" in state.result()[held].message
    assert state.result()[fine].result() == 5


def test_an_unpicklable_result_fails_its_task_and_downstream_sees_a_failure(
    runner: DaskTaskRunner,
) -> None:
    with Flow("bad-result") as flow:
        lock = returns_lock()
        after = identity(lock)
    state = flow.run(task_runner=runner)
    assert "cannot be pickled" in state.result()[lock].message
    assert isinstance(state.result()[after], TriggerFailed)


def test_a_big_result_stays_on_the_cluster_until_asked_for(process_address: str) -> None:
    runner = DaskTaskRunner(address=process_address, inline_result_bytes=1024)
    with runner:
        handle = runner.submit(TaskRunCall(task=big, name="big-00000000-0", inputs={"size": 4096}))
        small = runner.submit(TaskRunCall(task=big, name="big-00000000-1", inputs={"size": 10}))
        state = runner.wait(handle)
        assert isinstance(state, Success)
        assert runner.shape(handle).length == 4096
        assert state.result() == list(range(4096))
        late = runner.wait(
            runner.submit(TaskRunCall(task=big, name="big-00000000-2", inputs={"size": 2048}))
        )
        kept = runner.wait(small)
    assert kept.result() == list(range(10)), "small results come back with their states"
    with pytest.raises(ResultNotAvailableError, match=r"big-00000000-2.*KiB.*closed"):
        late.result()


def test_task_tags_request_dask_resources() -> None:
    from distributed import LocalCluster

    @task(tags=["dask-resource:GPU=1"])
    def on_gpu() -> dict[str, float]:
        """The resources its own Dask task asked for (the runner drops a finished Dask
        task whose result came back inline, so the scheduler soon forgets it)."""
        from distributed import get_worker

        [own] = get_worker().state.executing  # its one thread runs this task run
        return dict(own.resource_restrictions or {})

    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        resources={"GPU": 1},
        dashboard_address=":0",
    ) as cluster:
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        with runner:
            handle = runner.submit(TaskRunCall(task=on_gpu, name="on_gpu-00000000-0"))
            restrictions = runner.wait(handle).result()
    assert restrictions == {"GPU": 1.0}


def test_a_task_whose_module_workers_cannot_import_fails_saying_so(
    runner: DaskTaskRunner, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "only_here_tasks.py").write_text(
        "from orchestrator import Task\n\n\nclass OnlyHere(Task):\n    def run(self):\n"
        "        return 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from only_here_tasks import OnlyHere  # type: ignore[import-not-found]

    with Flow("missing-module") as flow:
        missing = OnlyHere()()
        fine = identity(2)
    state = flow.run(task_runner=runner)
    assert "could not be loaded on the Dask worker: ModuleNotFoundError" in (
        state.result()[missing].message
    )
    assert state.result()[fine].result() == 2
