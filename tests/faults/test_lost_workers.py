"""Every worker (and nanny) killed mid-run: a warning, a bounded wait, then a Failed flow.

Seen before: ``flow.run()`` waited forever, without a log line, for Dask tasks the
scheduler held with no worker to run them. Now: a WARNING names the scheduler and the
unfinished task runs, the runner waits ``no_workers_timeout`` seconds for a worker, and
then fails every unfinished task run saying "no Dask workers for 3 s: the cluster lost all
its workers"; the flow is ``Failed``. A worker that joins within the wait lets the run
finish as if nothing happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Flow, task
from orchestrator.engine.state import Failed, Success
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.faults import NoWorkersError

from .processes import Child, Processes, Scheduler, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: the wait the tests give the runner (seconds)
NO_WORKERS_TIMEOUT = 3


@task
def quick(x: int) -> int:
    return x + 1


@task
def slow(marker: str, x: int) -> int:
    """Says it started (a file), then runs for a while."""
    if not Path(marker).exists():
        Path(marker).write_text("started")
        time.sleep(30)
    return x


def _cluster(processes: Processes, count: int = 2) -> tuple[Scheduler, list[Child]]:
    scheduler = processes.scheduler()
    workers = [processes.worker(scheduler.address, "--nthreads", "1") for _ in range(count)]
    wait_for_workers(scheduler.address, count)
    return scheduler, workers


def _kill_every_worker(workers: list[Child]) -> None:
    """SIGKILL each nanny and its worker process: nothing restarts them."""
    pids = set().union(*(worker.descendant_pids() for worker in workers))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for worker in workers:
        worker.process.wait(15)


def _flow(marker: Path) -> tuple[Flow, Any, Any, Any, Any]:
    with Flow("loses-its-workers") as flow:
        first = quick(1)
        running = slow(str(marker), first)
        after = quick(running)
        mapped = quick.map(x=[running, first])
    return flow, first, running, after, mapped


def _wait_for(marker: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert time.monotonic() < deadline, "the slow task never started"
        time.sleep(0.05)


def _run_in_thread(flow: Flow, runner: DaskTaskRunner) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        result["state"] = flow.run(task_runner=runner)
        result["returned"] = time.monotonic()

    thread = threading.Thread(target=run, name="test-flow-run", daemon=True)
    thread.start()
    return thread, result


def test_losing_every_worker_fails_the_unfinished_task_runs_after_the_wait(
    processes: Processes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler, workers = _cluster(processes)
    marker = tmp_path / "slow-started"
    flow, first, running, after, mapped = _flow(marker)
    runner = DaskTaskRunner(address=scheduler.address, no_workers_timeout=NO_WORKERS_TIMEOUT)
    caplog.set_level(logging.WARNING, logger="orchestrator")
    thread, result = _run_in_thread(flow, runner)
    _wait_for(marker)

    lost_at = time.monotonic()
    _kill_every_worker(workers)
    thread.join(NO_WORKERS_TIMEOUT + 20)
    assert not thread.is_alive(), "flow.run() still waits for workers that will not come"
    waited = result["returned"] - lost_at
    assert NO_WORKERS_TIMEOUT - 0.5 <= waited <= NO_WORKERS_TIMEOUT + 10

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    lost = [r.getMessage() for r in warnings if "lost all its workers" in r.getMessage()]
    assert lost, [r.getMessage() for r in warnings]
    assert scheduler.address in lost[0]
    # the slow task run, its downstream, and the list the map waits for
    assert "with 3 task runs unfinished" in lost[0]

    state = result["state"]
    assert isinstance(state, Failed), state
    states = state.result()
    assert isinstance(states[first], Success)
    assert isinstance(states[mapped], Failed)  # it could not learn what to map over
    for unfinished in (states[running], states[after]):
        assert isinstance(unfinished, Failed), unfinished
        assert isinstance(unfinished.data, NoWorkersError)
        message = unfinished.message or ""
        assert f"no Dask workers for {NO_WORKERS_TIMEOUT} s: the cluster lost all its workers" in (
            message
        )
        assert scheduler.address in message


def test_a_worker_that_joins_within_the_wait_lets_the_run_finish(
    processes: Processes, tmp_path: Path
) -> None:
    scheduler, workers = _cluster(processes, count=1)
    marker = tmp_path / "slow-started"
    flow, _first, running, after, mapped = _flow(marker)
    runner = DaskTaskRunner(address=scheduler.address, no_workers_timeout=40)
    thread, result = _run_in_thread(flow, runner)
    _wait_for(marker)

    _kill_every_worker(workers)
    processes.worker(scheduler.address, "--nthreads", "1")
    thread.join(45)
    assert not thread.is_alive()
    state = result["state"]
    assert isinstance(state, Success), state.result()
    states = state.result()
    assert states[running].result() == 2
    assert states[after].result() == 3
    assert [s.result() for s in states[mapped].map_states] == [3, 3]


def test_no_workers_timeout_is_checked_when_the_runner_is_built() -> None:
    with pytest.raises(ValueError, match=r"no_workers_timeout=-1.*seconds"):
        DaskTaskRunner(no_workers_timeout=-1)
