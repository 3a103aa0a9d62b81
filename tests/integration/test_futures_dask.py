"""The ``@flow`` futures API on a real Dask cluster (``DaskTaskRunner``).

One in-process ``LocalCluster`` serves the module; each flow run connects a
``DaskTaskRunner`` to its scheduler address, so runs start in milliseconds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator import context, flow, task, unmapped
from orchestrator.runs.futures import Future

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def scheduler_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def dask_runner(request: pytest.FixtureRequest) -> Any:
    """A runner connected to the module's cluster (skips if the Dask runner is not built)."""
    try:
        from orchestrator.task_runners import DaskTaskRunner
    except (ImportError, AttributeError) as err:
        pytest.skip(f"DaskTaskRunner is not available yet (issue 3): {err}")
    return DaskTaskRunner(address=request.getfixturevalue("scheduler_address"))


@task
def add(x, y=0):
    return x + y


@task
def where():
    return os.getpid(), context.get("task_run_name"), context.get("flow_name")


@task
def fail(message="boom"):
    raise ValueError(message)


@task
def nap(seconds):
    time.sleep(seconds)
    return seconds


@task
def identity(value):
    return value


def test_data_dependencies_and_nested_futures_resolve_on_the_cluster(dask_runner):
    @flow(task_runner=dask_runner)
    def nested():
        a, b = add(1), add(2)
        return identity({"pair": (a, b), "list": [add(a, b), 4]})

    assert nested().result() == {"pair": (1, 2), "list": [3, 4]}


def test_task_runs_see_their_run_context_on_the_worker(dask_runner):
    @flow(name="Where", task_runner=dask_runner)
    def located():
        return where()

    _, task_run_name, flow_name = located().result()
    assert task_run_name.startswith("where-")
    assert task_run_name.endswith("-0")
    assert flow_name == "Where"


def test_map_with_unmapped_returns_futures_resolved_on_the_cluster(dask_runner):
    @flow(task_runner=dask_runner)
    def mapped():
        children = add.map(identity([1, 2, 3]), y=unmapped(add(10)))
        assert all(isinstance(child, Future) for child in children)
        return [child.result() for child in children]

    assert mapped().result() == [11, 12, 13]


def test_get_state_is_running_while_the_task_runs_on_a_worker(dask_runner):
    @flow(task_runner=dask_runner)
    def watched():
        future = nap(0.5)
        deadline = time.monotonic() + 30
        while future.get_state().is_pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        first = future.get_state()
        return first.name, future.wait().name, future.result()

    assert watched().result() == ("Running", "Completed", 0.5)


def test_wait_with_timeout_returns_none_while_the_run_is_unfinished(dask_runner):
    @flow(task_runner=dask_runner)
    def impatient():
        future = nap(0.5)
        return future.wait(timeout=0.001), future.wait().name

    assert impatient().result() == (None, "Completed")


def test_failed_upstream_leaves_downstream_not_ready_and_logs_the_exception(dask_runner, caplog):
    caplog.set_level(logging.INFO, logger="orchestrator")

    @flow(task_runner=dask_runner)
    def failing():
        bad = fail("no table")
        add(1, wait_for=[bad])
        add(bad, 1)

    state = failing()
    assert repr(state) == "Failed(message='1/3 states failed.', type=FAILED)"
    task_run_states = state.result(raise_on_failure=False)
    assert [s.name for s in task_run_states] == ["Failed", "NotReady", "NotReady"]
    with pytest.raises(ValueError, match="no table"):
        state.result()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("orchestrator.")]
    assert any(m.startswith("Starting task runner `DaskTaskRunner`") for m in messages)
    errors = [r for r in caplog.records if r.getMessage().endswith("encountered exception:")]
    assert len(errors) == 1
    # the worker's traceback, as text: logging it unpickles nothing from the cluster
    assert "ValueError: no table" in errors[0].exc_text


def test_final_states_are_logged_as_runs_finish_not_when_the_flow_ends(dask_runner, caplog):
    caplog.set_level(logging.INFO, logger="orchestrator")

    def finished(name: str) -> list[str]:
        return [
            r.getMessage()
            for r in list(caplog.records)
            if r.getMessage().startswith(f"Task run {name!r} finished")
        ]

    @flow(task_runner=dask_runner)
    def body():
        ok, bad = add(1, 2), fail()
        # nobody asks the futures: the runner tells the flow run's watcher of their summaries
        deadline = time.monotonic() + 20
        while not (finished(ok.name) and finished(bad.name)) and time.monotonic() < deadline:
            time.sleep(0.01)
        return [ok.name, bad.name], [len(finished(ok.name)), len(finished(bad.name))]

    state = body()
    (ok_name, bad_name), seen_in_body = state.result(raise_on_failure=False)
    assert seen_in_body == [1, 1]
    assert len(finished(ok_name)) == 1
    assert len(finished(bad_name)) == 1
    assert "Failed" in finished(bad_name)[0]


def test_a_list_of_futures_is_gathered_on_the_worker_naming_a_failed_run(dask_runner):
    @task
    def total(values):
        return sum(values)

    @flow(task_runner=dask_runner)
    def gathered():
        ones = add.map(list(range(300)), unmapped(1))  # batched children
        singles = [add(i) for i in range(20)]
        broken = [add(1), fail("no table"), add(2)]
        return total([*ones, *singles]), broken[1].name, total(broken)

    state = gathered()
    whole, failed_name, downstream = state.result(raise_on_failure=False)
    assert whole.result() == sum(range(1, 301)) + sum(range(20))
    not_ready = downstream.wait()
    assert not_ready.name == "NotReady"
    assert f"did not succeed: {failed_name!r}." in not_ready.message


def test_futures_describe_their_dask_key_and_dashboard(dask_runner):
    kept: list[Future[int]] = []

    @flow(task_runner=dask_runner)
    def described():
        kept.append(add(1))

    described()
    (future,) = kept
    assert future.details, "the Dask runner describes its handles"
    html = future._repr_html_()
    assert future.name in html
    assert "Completed" in html
    assert "http" in html, "a dashboard link"


def test_embedded_default_cluster_runs_a_flow_and_closes():
    try:
        from orchestrator.task_runners import DaskTaskRunner
    except (ImportError, AttributeError) as err:
        pytest.skip(f"DaskTaskRunner is not available yet (issue 3): {err}")

    @flow(
        task_runner=DaskTaskRunner(
            cluster_kwargs={"n_workers": 1, "processes": False, "dashboard_address": ":0"}
        )
    )
    def embedded():
        return add(add(1), 1)

    assert embedded().result() == 2


def test_flow_result_too_big_to_come_back_inline_is_fetched_before_the_session_ends(
    request: pytest.FixtureRequest,
) -> None:
    try:
        from orchestrator.task_runners import DaskTaskRunner
    except (ImportError, AttributeError) as err:
        pytest.skip(f"DaskTaskRunner is not available yet (issue 3): {err}")
    runner = DaskTaskRunner(
        address=request.getfixturevalue("scheduler_address"), inline_result_bytes=100
    )

    @flow(task_runner=runner)
    def big():
        return identity(b"x" * 1000)

    assert big().result() == b"x" * 1000


@pytest.mark.timeout(120)
def test_nested_futures_and_maps_cross_process_boundaries():
    try:
        from orchestrator.task_runners import DaskTaskRunner
    except (ImportError, AttributeError) as err:
        pytest.skip(f"DaskTaskRunner is not available yet (issue 3): {err}")

    @task
    def pid_plus(x):
        return os.getpid(), x + 1

    @task
    def collect(pairs):
        return sorted({pid for pid, _ in pairs["all"]}), [x for _, x in pairs["all"]]

    @flow(
        task_runner=DaskTaskRunner(
            cluster_kwargs={"n_workers": 1, "processes": True, "threads_per_worker": 2}
        )
    )
    def across():
        children = pid_plus.map([1, 2, 3])
        return collect({"all": children})

    pids, values = across().result()
    assert values == [2, 3, 4]
    assert os.getpid() not in pids
