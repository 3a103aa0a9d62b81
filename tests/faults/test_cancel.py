"""Cancelling flow runs for real: on a LocalCluster, from another process, with Ctrl-C.

- ``FlowRun.cancel()`` from another thread stops a long map on a ``LocalCluster``: the run
  ends ``Cancelled`` and the scheduler holds none of its tasks afterwards;
- ``orchestrator cancel RUN_ID`` in one process stops ``orchestrator run`` in another
  (a request row in the journal that the running orchestrator polls);
- Ctrl-C (SIGINT) in ``orchestrator run`` records the run and its unfinished task runs
  ``Cancelled`` in the journal before it exits 130.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import flow, task
from orchestrator.journal import FlowRunRecord, SQLiteJournal
from orchestrator.task_runners import DaskTaskRunner

pytestmark = [pytest.mark.timeout(180), pytest.mark.integration]


@task
def nap(x: int) -> int:
    time.sleep(0.02)
    return x


@pytest.fixture
def cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as started:
        yield started


def _until(predicate: Any, timeout: float = 60.0) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` seconds (looked at often)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _latest() -> FlowRunRecord | None:
    runs = SQLiteJournal().latest_runs(limit=1)
    return runs[0] if runs else None


def test_flow_run_cancel_stops_a_long_map_and_leaves_no_tasks_on_the_scheduler(
    cluster: Any,
) -> None:
    @flow(name="long-map", task_runner=DaskTaskRunner(address=cluster.scheduler_address))
    def long_map(n: int) -> Any:
        return nap.map(list(range(n)))

    run = long_map.submit(3000)
    assert _until(lambda: sum(f.done() for f in run.futures[:200]) >= 20)  # some finished
    assert run.cancel("the test cancelled it")
    state = run.wait(60)
    assert state is not None
    assert state.is_cancelled(), state
    states = [f.get_state() for f in run.futures]
    assert len(states) == 3000
    assert any(s.is_cancelled() for s in states)
    assert any(s.is_successful() for s in states)
    assert _until(lambda: not cluster.scheduler.tasks, timeout=30), list(cluster.scheduler.tasks)
    recorded = _latest()
    assert recorded is not None
    assert recorded.state.kind == "Cancelled"
    assert sum(recorded.counts.values()) == 3000
    assert recorded.counts["Cancelled"] == sum(s.is_cancelled() for s in states)


LONG_FLOW = """
    import time
    from orchestrator import flow, task
    from orchestrator.task_runners import ConcurrentTaskRunner

    @task
    def nap(x):
        time.sleep(0.05)
        return x

    @flow(name="long-map", task_runner=ConcurrentTaskRunner(max_workers=2))
    def long_map(n: int):
        return nap.map(list(range(n)))
"""

LONG_DAG = """
    import time
    from orchestrator import Flow, task

    @task
    def nap(x):
        time.sleep(0.05)
        return x

    with Flow("long-dag") as flow:
        nap.map(list(range(2000)))
"""


def _orchestrator(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env={**os.environ, "ORCHESTRATOR_LOG_LEVEL": "WARNING", "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # a shell may start background jobs with SIGINT ignored: Ctrl-C must reach it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _has_started_children() -> bool:
    run = _latest()
    return run is not None and run.counts.get("Success", 0) >= 10


def test_orchestrator_cancel_from_another_process_stops_orchestrator_run(
    tmp_path: Path,
) -> None:
    (tmp_path / "long.py").write_text(textwrap.dedent(LONG_FLOW))
    running = _orchestrator("run", "long.py", "-q", "--param", "n=2000", cwd=tmp_path)
    try:
        assert _until(_has_started_children), "the run never recorded finished children"
        recorded = _latest()
        assert recorded is not None
        assert recorded.ended is None
        asked = subprocess.run(
            [sys.executable, "-m", "orchestrator", "cancel", recorded.id[:8], "--wait", "60"],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert asked.returncode == 0, asked.stdout + asked.stderr
        assert "ended Cancelled" in asked.stdout
        output, _ = running.communicate(timeout=60)
    finally:
        running.kill()
    assert running.returncode == 1, output  # a cancelled run is not a success
    assert "Cancelled" in output
    final = SQLiteJournal().find_run(recorded.id)
    assert final.state.kind == "Cancelled"
    assert final.counts["Cancelled"] > 0
    assert sum(final.counts.values()) == 2000


def test_ctrl_c_records_the_run_and_its_unfinished_task_runs_cancelled(tmp_path: Path) -> None:
    (tmp_path / "long.py").write_text(textwrap.dedent(LONG_DAG))
    running = _orchestrator("run", "long.py", cwd=tmp_path)
    try:
        assert _until(_has_started_children), "the run never recorded finished children"
        running.send_signal(signal.SIGINT)
        output, _ = running.communicate(timeout=60)
    finally:
        running.kill()
    assert running.returncode == 130, output
    recorded = _latest()
    assert recorded is not None
    assert recorded.state.kind == "Cancelled"
    assert "interrupted" in (recorded.state.message or "")
    assert recorded.counts["Cancelled"] > 0
    assert recorded.counts["Success"] >= 10
