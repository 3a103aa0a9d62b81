"""Flows on a remote cluster: ``dask scheduler`` and ``python -m workers`` as separate processes.

The processes are the ones ``docker-compose.yml`` runs (``remote_cluster`` starts them from
the compose file's commands). A map-reduce runs by address; its results come back, its
task runs ran in the worker processes with the right context, a worker-side log line
reaches this process, and the scheduler groups task runs under the task names. The
compose file's ``flow`` service command runs against the same cluster; plain
``dask worker`` processes serve flows too; an unreachable address fails in bounded time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from faults.processes import ROOT, Processes, free_port, wait_for_workers, worker_env

from orchestrator import Flow, context, task
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.runner import SchedulerUnreachableError

from .cluster_support import RemoteCluster, compose_command

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@task
def regions(count: int) -> list[str]:
    return [f"region-{i}" for i in range(count)]


@task
def measure(region: str) -> dict[str, Any]:
    context.logger.info("measuring %s on the worker", region)
    return {
        "region": region,
        "pid": os.getpid(),
        "task_name": context.task_name,
        "map_index": context.map_index,
        "today": context.today,
        "value": len(region),
    }


@task(name="report")
def report(measured: list[dict[str, Any]]) -> int:
    return sum(m["value"] for m in measured)


def map_reduce() -> tuple[Flow, Any, Any]:
    with Flow("remote-map-reduce") as flow:
        measured = measure.map(region=regions(6))
        total = report(measured)
    return flow, measured, total


def test_a_map_reduce_runs_by_address_in_the_worker_processes(
    remote_cluster: RemoteCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    flow, measured, total = map_reduce()
    state = flow.run(task_runner=DaskTaskRunner(address=remote_cluster.address))
    assert state.is_successful()
    assert state.result()[total].result() == sum(len(f"region-{i}") for i in range(6))
    children = state.result()[measured].result()
    assert {child["pid"] for child in children} <= remote_cluster.worker_pids()
    assert [child["map_index"] for child in children] == list(range(6))
    assert {child["task_name"] for child in children} == {"measure"}
    assert {child["today"] for child in children} == {
        dt.date.today().isoformat(),
        dt.datetime.now(dt.UTC).date().isoformat(),
    }
    logged = [r for r in caplog.records if r.getMessage().endswith("on the worker")]
    assert sorted(r.getMessage() for r in logged) == [
        f"measuring region-{i} on the worker" for i in range(6)
    ]
    assert all(r.task_run_name.startswith("measure-") for r in logged)


def test_the_scheduler_groups_task_runs_under_their_task_names(
    remote_cluster: RemoteCluster,
) -> None:
    from distributed import Client

    flow, _, _ = map_reduce()
    assert flow.run(task_runner=DaskTaskRunner(address=remote_cluster.address)).is_successful()
    with Client(remote_cluster.address, timeout=30) as client:
        prefixes = client.run_on_scheduler(_task_prefixes)
    assert {"regions", "measure", "report"} <= set(prefixes)


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.task_prefixes)


def test_the_compose_flow_service_runs_the_example_against_the_cluster(
    remote_cluster: RemoteCluster,
) -> None:
    command = compose_command("flow", remote_cluster.address)
    done = subprocess.run(
        command, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "report" in done.stdout


@pytest.fixture(scope="module")
def plain_dask_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler with one plain ``dask worker`` (no orchestrator plugin of its own)."""
    processes = Processes(tmp_path_factory.mktemp("plain-dask-worker"))
    try:
        scheduler = processes.scheduler()
        processes.start(
            "dask-worker",
            [sys.executable, "-m", "dask", "worker", scheduler.address, "--nthreads", "2"],
        )
        wait_for_workers(scheduler.address, 1)
        yield scheduler.address
    finally:
        processes.stop_all(grace=15)


def test_plain_dask_workers_serve_flows_and_forward_logs(
    plain_dask_worker: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    flow, _, total = map_reduce()
    state = flow.run(task_runner=DaskTaskRunner(address=plain_dask_worker))
    assert state.result()[total].result() == sum(len(f"region-{i}") for i in range(6))
    assert any(r.getMessage() == "measuring region-0 on the worker" for r in caplog.records)


def test_an_unreachable_scheduler_fails_naming_the_address_in_bounded_time() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    flow, _, _ = map_reduce()
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachableError, match=f"'{address}' within 2 seconds"):
        flow.run(task_runner=DaskTaskRunner(address=address, client_kwargs={"timeout": 2}))
    assert time.monotonic() - started < 30
