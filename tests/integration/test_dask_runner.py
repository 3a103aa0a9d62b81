"""DaskTaskRunner's own life: embedded clusters, options, reuse, and results after a run.

No address: each flow run starts a temporary cluster (``LocalCluster``, or the given
class) and closes it after. An address and cluster options together are an error. One
runner serves several runs; opened by the caller (``with runner:``), it keeps one session
for all of them, so results kept on the cluster can still be fetched.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.handles import ResultNotAvailableError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

INPROC = {"n_workers": 1, "threads_per_worker": 2, "processes": False, "dashboard_address": ":0"}


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def double(x: int) -> int:
    return 2 * x


@task(name="sum")
def total(values: list[int]) -> int:
    return sum(values)


def small_flow(runner: Any = None) -> tuple[Flow, Any]:
    with Flow("embedded", task_runner=runner) as flow:
        summed = total(double.map(x=numbers(5)))
    return flow, summed


def test_without_an_address_a_temporary_local_cluster_runs_the_flow_and_closes() -> None:
    runner = DaskTaskRunner(cluster_kwargs=INPROC)
    flow, summed = small_flow(runner)
    state = flow.run()
    assert state.result()[summed].result() == 20
    assert runner._session is None, "the session (and its cluster) ended with the run"


def test_a_cluster_class_with_kwargs_and_adapt_kwargs_serves_the_run() -> None:
    from distributed import LocalCluster

    created: list[Any] = []

    class Recording(LocalCluster):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            created.append(self)

    runner = DaskTaskRunner(
        cluster_class=Recording,
        cluster_kwargs={**INPROC, "n_workers": 0},
        adapt_kwargs={"minimum": 1, "maximum": 1},
    )
    flow, summed = small_flow()
    assert flow.run(task_runner=runner).result()[summed].result() == 20
    assert len(created) == 1
    assert created[0].status.name == "closed"


def test_an_address_with_cluster_options_is_an_error_naming_both() -> None:
    with pytest.raises(ValueError, match="cluster_kwargs cannot apply"):
        DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 2})


def test_one_runner_serves_several_flow_runs(inproc_address: str) -> None:
    runner = DaskTaskRunner(address=inproc_address)
    flow, summed = small_flow()
    assert [flow.run(task_runner=runner).result()[summed].result() for _ in range(3)] == [20] * 3


def test_an_open_runner_keeps_big_results_fetchable_across_runs(inproc_address: str) -> None:
    runner = DaskTaskRunner(address=inproc_address, inline_result_bytes=64)
    with Flow("big") as flow:
        listed = numbers(1000)
    with runner:
        first = flow.run(task_runner=runner)
        second = flow.run(task_runner=runner)
        assert first.result()[listed].result() == list(range(1000))
    assert first.result()[listed].result() == list(range(1000)), "fetched results stay"
    with pytest.raises(ResultNotAvailableError, match="connection to the cluster has closed"):
        second.result()[listed].result()
