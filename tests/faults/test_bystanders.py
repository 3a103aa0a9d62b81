"""Only the task that crashed the worker is blamed, never the tasks that waited beside it.

Dask counts a worker's death against every task the worker had been sent, running or
queued (``TaskState.suspicious``). Here the killer and a mapped level's 20 children all
wait for one upstream result, so Dask sends them all to the worker that computes it; the
killer (submitted first, so first in Dask's priority order) runs, the worker dies with
the children queued behind it, the upstream result dies too and is computed again on
the other worker, and everything moves there together -- death after death.

Seen before: children that merely waited on those workers failed with "its Dask worker
died 3 times while running it" (and the map that needed them with them). Now: a child
whose every death had another task running (or first in line) is a bystander and is
resubmitted; only the killer fails. Three runs on one held-open runner, every child
succeeds every time.

Real processes: ``dask scheduler`` (allowed-failures 2) and two one-thread
``python -m workers``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from orchestrator import Flow, task, unmapped
from orchestrator.engine.state import Failed, Success
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.faults import WorkerDiedError

from .processes import Processes, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ALLOWED_FAILURES = 2
CHILDREN = 20
REPETITIONS = 3


@task
def numbers(count: int) -> list[int]:
    time.sleep(0.5)  # the killer and the children are all waiting for it when it ends
    return list(range(count))


@task
def killer(counter: str, values: list[int]) -> int:
    """Kills its worker process at once, every time."""
    with open(counter, "a") as handle:
        handle.write("x")
    os._exit(1)


@task(batch_size=1)
def short(x: int, values: list[int]) -> int:
    time.sleep(0.02)
    return x * 10


@task
def total(values: list[int]) -> int:
    return sum(values)


#: the scheduler's settings: Dask gives up after 3 deaths; it sends every ready task to a
#: worker at once (no queuing on the scheduler) and, guessing 1 ms for a task it has not
#: timed yet, sends each where its input lives: so all the children go where the killer goes
SCHEDULER_ENV = {
    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(ALLOWED_FAILURES),
    "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "inf",
    "DASK_DISTRIBUTED__SCHEDULER__UNKNOWN_TASK_DURATION": "1ms",
}


@pytest.fixture(scope="module")
def address(module_processes: Processes) -> str:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SCHEDULER_ENV.items():
            patch.setenv(name, value)
        scheduler = module_processes.scheduler()
        for _ in range(2):
            module_processes.worker(scheduler.address, "--nthreads", "1")
    wait_for_workers(scheduler.address, 2)
    return scheduler.address


def test_children_queued_beside_a_killer_all_succeed_and_only_the_killer_fails(
    address: str, tmp_path: Path
) -> None:
    with DaskTaskRunner(address=address) as runner:
        for repetition in range(REPETITIONS):
            counter = tmp_path / f"killer-runs-{repetition}"
            counter.write_text("")
            with Flow("killer-among-children") as flow:
                values = numbers(CHILDREN)
                killed = killer(str(counter), values)
                children = short.map(x=list(range(CHILDREN)), values=unmapped(values))
                summed = total(children)
            state = flow.run(task_runner=runner)

            states = state.result()
            child_states = states[children].map_states
            failed = [i for i, child in enumerate(child_states) if not child.is_successful()]
            assert not failed, f"repetition {repetition}: bystanders failed: " + "; ".join(
                f"{i}: {child_states[i].message}" for i in failed
            )
            assert [child.result() for child in child_states] == [10 * i for i in range(CHILDREN)]
            assert isinstance(states[summed], Success)
            assert states[summed].result() == 10 * sum(range(CHILDREN))
            assert isinstance(states[killed], Failed)
            assert isinstance(states[killed].data, WorkerDiedError)
            assert len(counter.read_text()) <= ALLOWED_FAILURES + 1
            assert isinstance(state, Failed)
            assert "'killer'" in (state.message or "")
