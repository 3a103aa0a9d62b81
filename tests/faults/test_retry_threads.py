"""A waiting retry holds no thread, and a bare ``RETRY`` does not spin.

Seen before: 2,000 mapped children retrying after 1 s raised a Dask worker's thread count
to 463 (each waiting retry seceded from the pool and slept in a thread of its own); a
body raising ``RETRY`` with neither ``max_retries`` nor ``retry_delay`` ran about 1.4
million attempts in 20 s. Now the Dask task functions are coroutines that await retry
delays on the worker's event loop (``taskrun.dask.retry_waits``), and a ``RETRY`` without
a ``retry_delay`` waits ``RETRY_SIGNAL_DELAY`` (1 s) before the next attempt, each retried
attempt logging one line.

Real processes: a ``LocalCluster(processes=True)`` with one two-thread worker.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from orchestrator import Flow, context, task
from orchestrator.engine import signals
from orchestrator.engine.state import State
from orchestrator.task_runners import DaskTaskRunner, SequentialTaskRunner
from taskrun.retries import RETRY_SIGNAL_DELAY

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CHILDREN = 2000
#: threads a worker may gain over its idle count while the children wait (slack for
#: Dask's own helpers: comms, spill, profiling)
THREAD_SLACK = 10


@task(max_retries=1, retry_delay=dt.timedelta(seconds=1))
def fails_once(x: int) -> tuple[int, int]:
    if context.task_run_count == 1:
        raise ConnectionError("the first attempt fails")
    return x, context.task_run_count


@task
def retries_twice(path: str) -> int:
    with open(path, "a") as attempts:
        attempts.write(f"{time.monotonic()}\n")
    if context.task_run_count < 3:
        raise signals.RETRY("not yet")
    return int(context.task_run_count)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
    ) as started:
        yield started


def _worker_threads(client: Client) -> int:
    counts = client.run(threading.active_count)
    assert len(counts) == 1
    return int(next(iter(counts.values())))


def test_two_thousand_waiting_retries_hold_no_worker_threads(cluster: LocalCluster) -> None:
    with Flow("retry-threads") as flow:
        children = fails_once.map(x=list(range(CHILDREN)))
    with Client(cluster) as client:
        baseline = _worker_threads(client)
        finished: list[State] = []
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        started = time.monotonic()
        run = threading.Thread(target=lambda: finished.append(flow.run(task_runner=runner)))
        run.start()
        samples = []
        while run.is_alive():
            samples.append(_worker_threads(client))
            run.join(0.2)
        elapsed = time.monotonic() - started
    assert len(finished) == 1
    assert finished[0].is_successful(), finished[0]
    states = finished[0].result()[children].map_states
    assert len(states) == CHILDREN
    assert all(state.is_successful() for state in states)
    assert [state.result() for state in states] == [(x, 2) for x in range(CHILDREN)]
    assert elapsed >= 1.0  # every child waited its delay
    assert len(samples) >= 3, "the run ended before its threads could be counted"
    assert max(samples) <= baseline + THREAD_SLACK, (baseline, samples)


def _attempt_times(path: Path) -> list[float]:
    return [float(line) for line in path.read_text().split()]


def test_a_bare_retry_signal_waits_between_attempts_and_logs_each_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    attempts = tmp_path / "attempts"
    with Flow("bare-retry") as flow:
        result = retries_twice(path=str(attempts))
    state = flow.run(task_runner=SequentialTaskRunner())
    assert state.result()[result].result() == 3
    times = _attempt_times(attempts)
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= RETRY_SIGNAL_DELAY for gap in gaps), gaps
    lines = [r.getMessage() for r in caplog.records if "next attempt in" in r.getMessage()]
    assert lines == [
        f"Task 'retries_twice': attempt {n} ended 'Retrying'; next attempt in 1 seconds."
        for n in (1, 2)
    ]


def test_a_bare_retry_signal_waits_between_attempts_on_dask(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts"
    with Flow("bare-retry-dask") as flow:
        result = retries_twice(path=str(attempts))
    runner: Any = DaskTaskRunner(address=cluster.scheduler_address)
    state = flow.run(task_runner=runner)
    assert state.result()[result].result() == 3
    times = _attempt_times(attempts)
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= RETRY_SIGNAL_DELAY for gap in gaps), gaps
