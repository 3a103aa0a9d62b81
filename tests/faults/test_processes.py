"""The process helper itself: kill by PID, restart on the same port, leave nothing behind.

Fault tests trust ``Processes`` to put a scheduler back where it was and to clean up even
after a nanny was killed and its worker process orphaned; these tests check both.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs installed
import pytest

from .processes import Processes, wait_for_workers

pytestmark = pytest.mark.integration


def running(pids: set[int], within: float = 5.0) -> set[int]:
    """The ``pids`` still running (zombies count as gone) once ``within`` seconds passed, or
    sooner when all are gone: a SIGKILLed process takes a moment to be torn down."""
    deadline = time.monotonic() + within
    while True:
        alive = set()
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.add(pid)
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


@pytest.mark.timeout(90)
def test_a_killed_scheduler_restarts_on_its_port_and_serves_a_flow(processes: Processes) -> None:
    scheduler = processes.scheduler()
    processes.kill(scheduler)
    assert not scheduler.is_alive()
    again = processes.restart(scheduler)
    assert again.address == scheduler.address
    assert again.pid != scheduler.pid
    processes.worker(again.address, "--nthreads", "2")
    wait_for_workers(again.address, 1)
    run = processes.cli("run", "examples/mapreduce.py", "--address", again.address, "-q")
    assert run.process.wait(60) == 0, run.output()
    assert "Success" in run.output()


@pytest.mark.timeout(60)
def test_stop_all_kills_the_orphans_of_a_killed_nanny(tmp_path: Path) -> None:
    processes = Processes(tmp_path)
    try:
        scheduler = processes.scheduler()
        nanny = processes.worker(scheduler.address, "--nthreads", "1")
        wait_for_workers(scheduler.address, 1)
        pids = nanny.descendant_pids() | scheduler.descendant_pids()
        assert len(pids) >= 3  # scheduler, nanny, worker process
        # SIGKILL to the nanny's PID only: its worker process is orphaned (until it notices)
        processes.kill(nanny)
        assert not nanny.is_alive()
    finally:
        processes.stop_all()
    assert running(pids) == set()
    assert processes.children == []
