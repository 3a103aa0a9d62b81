"""The scheduler lost mid-run (SIGKILL, SIGTERM, or killed and restarted on its port).

Seen before: Dask cancels every future of a client that lost its scheduler; the runner
read that as "cancelled", so the run returned ``Success('All reference tasks
succeeded.')`` with its tasks ``Cancelled`` (now ``Cancelled`` by the flow-state rule),
and ``orchestrator run`` exited 0. Now: the unfinished task runs are ``Failed`` naming the
lost scheduler's address (nobody asked to cancel them), the flow ``Failed``, within the
connect timeout of the loss; ``orchestrator run --address`` exits 1 with its summary
table; and no thread is left behind.
"""

from __future__ import annotations

import signal
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Flow, task
from orchestrator.engine.state import Failed, Success
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.faults import SchedulerLostError

from .processes import Processes, Scheduler, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: the runner's connect timeout (``client_kwargs["timeout"]``): the loss is settled within it
CONNECT_TIMEOUT = 5.0


@task
def quick(x: int) -> int:
    return x + 1


@task
def slow(marker: str, x: int) -> int:
    """Says it started (a file), then runs for longer than any test waits."""
    Path(marker).write_text("started")
    time.sleep(30)
    return x


@task
def total(values: list[int]) -> int:
    return sum(values)


def _cluster(processes: Processes) -> Scheduler:
    scheduler = processes.scheduler()
    processes.worker(scheduler.address, "--nthreads", "2")
    wait_for_workers(scheduler.address, 1)
    return scheduler


def _flow(marker: Path) -> tuple[Flow, Any, Any, Any]:
    with Flow("loses-its-scheduler") as flow:
        first = quick(1)
        running = slow(str(marker), first)
        after = quick(running)
        mapped = quick.map(x=[running, first])
        summed = total(mapped)
    return flow, first, running, (after, summed)


def _wait_for(marker: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert time.monotonic() < deadline, "the slow task never started"
        time.sleep(0.05)


def _our_threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _run_in_thread(flow: Flow, runner: DaskTaskRunner) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        result["state"] = flow.run(task_runner=runner)
        result["returned"] = time.monotonic()

    thread = threading.Thread(target=run, name="test-flow-run", daemon=True)
    thread.start()
    return thread, result


def _warm_up(address: str) -> None:
    """One healthy run first: Dask's lasting threads (its offload pool) start here."""
    with Flow("warm-up") as flow:
        quick(1)
    runner = DaskTaskRunner(address=address, client_kwargs={"timeout": CONNECT_TIMEOUT})
    assert flow.run(task_runner=runner).is_successful()


@pytest.mark.parametrize("loss", ["SIGKILL", "SIGTERM", "restart"])
def test_a_lost_scheduler_fails_the_unfinished_task_runs_naming_it(
    processes: Processes, tmp_path: Path, loss: str
) -> None:
    scheduler = _cluster(processes)
    _warm_up(scheduler.address)
    before = _our_threads()
    marker = tmp_path / "slow-started"
    flow, first, running, (after, summed) = _flow(marker)
    runner = DaskTaskRunner(address=scheduler.address, client_kwargs={"timeout": CONNECT_TIMEOUT})
    thread, result = _run_in_thread(flow, runner)
    _wait_for(marker)
    # ``first`` finished before ``slow`` started; give its summary time to reach this process
    # (workers publish summaries every few milliseconds), so only unfinished runs are lost
    time.sleep(1.0)

    lost_at = time.monotonic()
    if loss == "restart":
        processes.restart(scheduler)
    else:
        processes.kill(scheduler, getattr(signal, loss))
    thread.join(CONNECT_TIMEOUT + 10)
    assert not thread.is_alive(), "flow.run() did not return after the scheduler was lost"
    assert result["returned"] - lost_at <= CONNECT_TIMEOUT + 3

    state = result["state"]
    assert isinstance(state, Failed), state
    states = state.result()
    assert isinstance(states[first], Success)
    for unfinished in (running, after, summed):
        failed = states[unfinished]
        assert isinstance(failed, Failed), failed
        assert isinstance(failed.data, SchedulerLostError)
        assert scheduler.address in (failed.message or "")
    assert not any(s.is_cancelled() for s in states.values())

    deadline = time.monotonic() + 10
    while (left := _our_threads() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"threads left behind: {sorted(t.name for t in left)}"


def test_orchestrator_run_exits_1_with_its_summary_when_the_scheduler_is_lost(
    processes: Processes, tmp_path: Path
) -> None:
    scheduler = _cluster(processes)
    marker = tmp_path / "slow-started"
    flow_file = tmp_path / "loses.py"
    flow_file.write_text(
        textwrap.dedent(
            f"""
            import time
            from pathlib import Path
            from orchestrator import Flow, task

            @task
            def slow_step() -> int:
                Path({str(marker)!r}).write_text("started")
                time.sleep(30)
                return 1

            @task
            def next_step(x: int) -> int:
                return x + 1

            with Flow("loses-its-scheduler") as flow:
                next_step(slow_step())
            """
        )
    )
    cli = processes.cli(
        "run",
        str(flow_file),
        "--address",
        scheduler.address,
        "--connect-timeout",
        str(CONNECT_TIMEOUT),
    )
    _wait_for(marker)
    processes.kill(scheduler)
    code = cli.process.wait(CONNECT_TIMEOUT + 20)
    output = cli.output()
    assert code == 1, output
    assert "slow_step" in output
    assert "next_step" in output
    assert scheduler.address in output
    assert "Failed" in output or "FAILED" in output
