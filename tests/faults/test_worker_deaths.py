"""A task that kills its worker every time, with an upstream: bounded, blamed, and the rest runs.

Seen before: with an upstream (released once the killer was submitted, so its Dask future
was gone), every ``KilledWorker`` of the killer counted as "an upstream erred", and the
killer was resubmitted as ``...-again-again-...`` forever (125+ body runs, ``flow.run()``
never returned). Now: at most ``allowed-failures + 1`` body runs (each appends to a file
before dying), the killer ``Failed`` naming its worker's deaths (and memory, when the nanny
restarted the worker for it), its downstream ``TriggerFailed``, an independent branch
``Success``, all in bounded time.

Real processes: ``dask scheduler`` (allowed-failures 2, from the environment) and two
``python -m workers`` with one thread and a 300 MB memory limit each.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from orchestrator import Flow, task
from orchestrator.engine.state import Failed, Success, TriggerFailed
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.faults import WorkerDiedError

from .processes import Processes, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: Dask gives up on a task after this many deaths, plus one
ALLOWED_FAILURES = 2


@task
def source() -> int:
    return 20


@task
def crash(counter: str, value: int) -> int:
    """Kills its worker process at once, every time (as a segfault would)."""
    _count(counter)
    os._exit(1)


@task
def hog(counter: str, value: int) -> int:
    """Takes 1 GB, in steps the nanny's memory monitor sees, on a 300 MB worker."""
    _count(counter)
    chunks = []
    for _ in range(50):
        chunks.append(b"x" * (20 << 20))
        time.sleep(0.02)
    return len(chunks)


@task
def plus_one(x: int) -> int:
    return x + 1


def _count(counter: str) -> None:
    with open(counter, "a") as handle:
        handle.write("x")


@pytest.fixture(scope="module")
def address(module_processes: Processes) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES", str(ALLOWED_FAILURES))
        scheduler = module_processes.scheduler()
        for _ in range(2):
            module_processes.worker(scheduler.address, "--nthreads", "1", "--memory-limit", "300MB")
    wait_for_workers(scheduler.address, 2)
    return scheduler.address


@pytest.mark.parametrize("killer", [crash, hog], ids=["os-exit", "out-of-memory"])
def test_a_task_that_keeps_killing_its_worker_with_an_upstream_fails_after_allowed_failures(
    address: str, tmp_path: Path, killer: object
) -> None:
    counter = tmp_path / "body-runs"
    counter.write_text("")
    with Flow("killer-with-upstream") as flow:
        value = source()
        killed = killer(str(counter), value)  # type: ignore[operator]
        after = plus_one(killed)
        other = plus_one(value)

    started = time.monotonic()
    state = flow.run(task_runner=DaskTaskRunner(address=address))
    elapsed = time.monotonic() - started

    runs = len(counter.read_text())
    assert 1 <= runs <= ALLOWED_FAILURES + 1, f"the body ran {runs} times"
    assert isinstance(state, Failed)
    states = state.result()
    died = states[killed]
    assert isinstance(died, Failed)
    assert isinstance(died.data, WorkerDiedError)
    message = died.message or ""
    assert f"its Dask worker died {ALLOWED_FAILURES + 1} times while running it" in message
    assert "(last on tcp://127.0.0.1:" in message
    assert "KilledWorker" not in message
    if killer is hog:
        assert "exceeded its memory budget" in message
        assert "--memory-limit" in message
    assert isinstance(states[after], TriggerFailed)
    assert isinstance(states[other], Success)
    assert states[other].result() == 21
    assert elapsed < 45
