"""Dask's memory manager sees what a task run's value weighs (``taskrun.dask.sizes``).

Seen before: for a task returning 100 MB the scheduler recorded ``nbytes = 104``, the
size of the ``State`` wrapping the result, so Dask neither spilled nor paused for it.
Now a state weighs its result, and a batch of states the sum of its members.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from dask.sizeof import sizeof
from distributed import Client

from orchestrator import task
from orchestrator.task_runners import DaskTaskRunner
from taskrun.dask.pickled import InlineResult
from taskrun.dask.sizes import STATE_OVERHEAD, StateBatch
from taskrun.states import Failed, Success
from taskrun.wire import TaskRunCall

FIFTY_MB = 50 << 20


def fifty_mb() -> bytes:
    return b"\0" * FIFTY_MB


@task
def fifty_mb_task() -> bytes:
    return fifty_mb()


@task
def fifty_mb_list() -> list[bytes]:
    return [b"\0" * (FIFTY_MB // 50)] * 50


def _nbytes(dask_scheduler: Any) -> dict[str, int]:
    return {str(key): ts.nbytes for key, ts in dask_scheduler.tasks.items()}


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_the_scheduler_records_a_task_runs_result_size_as_for_a_plain_dask_task(
    process_address: str,
) -> None:
    client_class: Any = Client  # untyped in distributed
    with (
        client_class(process_address) as client,
        DaskTaskRunner(address=process_address) as runner,
    ):
        plain = client.submit(fifty_mb, pure=False)
        handles = [
            runner.submit(TaskRunCall(task=fifty_mb_task, name="fifty_mb_task-00000000-0")),
            runner.submit(TaskRunCall(task=fifty_mb_list, name="fifty_mb_list-00000000-0")),
        ]
        plain.result()
        assert all(runner.wait(h).is_successful() for h in handles)
        keys = [runner.describe(h)["dask_key"] for h in handles]
        # a summary reaches us while its Dask task is still returning its value: wait until
        # the scheduler has the values in memory (nbytes -1 means not yet)
        deadline = time.monotonic() + 30
        measured = client.run_on_scheduler(_nbytes)
        while any(measured.get(k, -1) < 0 for k in keys) and time.monotonic() < deadline:
            time.sleep(0.05)
            measured = client.run_on_scheduler(_nbytes)
        expected = measured[plain.key]
        assert expected >= FIFTY_MB
        for handle in handles:
            ours = measured[runner.describe(handle)["dask_key"]]
            assert abs(ours - expected) <= expected * 0.1, (ours, expected)


def test_a_state_weighs_its_result_and_a_batch_the_sum_of_its_members() -> None:
    payload = b"x" * 100_000
    assert sizeof(Success("ok", payload)) == STATE_OVERHEAD + sizeof(payload)
    assert sizeof(Success("ok")) == STATE_OVERHEAD
    assert sizeof(Failed("no", ValueError("no"))) >= STATE_OVERHEAD
    held = Success("ok", InlineResult.holding([payload] * 3, "t-0"))
    assert sizeof(held) >= 3 * len(payload)
    batch = StateBatch([Success("ok", payload) for _ in range(40)])
    assert sizeof(batch) >= 40 * len(payload)  # every member counted, not a sample
