"""A worker dies after a mapped level's results were released: a state, never a TypeError.

Seen before: on a ``load -> transform`` map on Dask, the runner releases each ``load``
child's future once every ``transform`` child is submitted. When a worker then died and
Dask gave up on the ``transform`` Dask tasks it held, the resubmission had no ``load``
future to pass any more, passed the ``load`` states instead, and pickling their results
(left on the dead worker) raised ``TypeError`` out of ``flow.run()``; the runner's session
stayed open, reconnecting and waiting for workers after the cluster had closed. Now:
``flow.run()`` returns a state, every ``transform`` child is either recomputed (its
``load`` run again) or ``Failed`` saying its upstream result was lost with its worker, the
flow is ``Success`` only if every child really ran, and all of it in bounded time.

Real processes: ``dask scheduler`` (allowed-failures 0: one death is enough for Dask to
give up on what the worker ran) and two ``python -m workers`` with one thread each; the
test SIGKILLs the worker process (its nanny restarts it) running the first ``transform``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from orchestrator import Flow, task
from orchestrator.engine.state import Failed, State, Success
from orchestrator.task_runners import DaskTaskRunner

from .processes import Processes, wait_for_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

#: children per mapped level
ITEMS = 6
#: bytes each ``load`` returns: past ``inline_result_bytes``, so it stays on its worker
ITEM_BYTES = 2 << 20


@task
def load(i: int) -> bytes:
    return bytes([i]) * ITEM_BYTES


@task(batch_size=3)  # two batches: the killed one is split, its loads released
def transform(marker: str, data: bytes) -> int:
    """The first to start writes its worker's PID to ``marker`` and waits to be killed."""
    try:
        with open(marker, "x") as handle:
            handle.write(str(os.getpid()))
    except FileExistsError:
        time.sleep(0.2)
    else:
        time.sleep(30)  # the test kills this worker process meanwhile
    return data[0] + len(data)


@task
def total(values: list[int]) -> int:
    return sum(values)


@pytest.fixture
def address(processes: Processes) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES", "0")
        scheduler = processes.scheduler()
        for _ in range(2):
            processes.worker(scheduler.address, "--nthreads", "1")
    wait_for_workers(scheduler.address, 2)
    return scheduler.address


def _kill_when_started(marker: Path, killed: list[int]) -> None:
    """SIGKILL the worker process whose PID ``marker`` names, once it does."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = marker.read_text() if marker.exists() else ""
        if text:
            os.kill(int(text), signal.SIGKILL)
            killed.append(int(text))
            return
        time.sleep(0.05)


def _check_child(state: State) -> None:
    """Recomputed with the right value, or failed naming its lost upstream."""
    if isinstance(state, Success):
        assert state.result() in {i + ITEM_BYTES for i in range(ITEMS)}
        return
    assert isinstance(state, Failed), state
    message = state.message or ""
    assert "transform" in message, message
    assert "lost" in message, message


def test_a_worker_death_after_upstream_results_were_released_ends_in_a_state(
    address: str, tmp_path: Path
) -> None:
    marker = tmp_path / "killed-pid"
    with Flow("released-upstream") as flow:
        loaded = load.map(list(range(ITEMS)))
        transformed = transform.map([str(marker)] * ITEMS, loaded)
        summed = total(transformed)

    killed: list[int] = []
    killer = threading.Thread(target=_kill_when_started, args=(marker, killed), daemon=True)
    killer.start()
    started = time.monotonic()
    state = flow.run(task_runner=DaskTaskRunner(address=address))
    elapsed = time.monotonic() - started
    killer.join(5)

    assert killed, "no transform started: the test did not kill a worker"
    states = state.result()
    children = states[transformed].map_states
    assert len(children) == ITEMS
    for child in children:
        _check_child(child)
    if isinstance(state, Success):  # only for work that happened
        assert all(isinstance(child, Success) for child in children)
        assert states[summed].result() == sum(i + ITEM_BYTES for i in range(ITEMS))
    else:
        assert isinstance(state, Failed)
        assert any(isinstance(child, Failed) for child in children)
    assert elapsed < 90
