"""Where mapped children's slices are cut, on two worker processes of one thread each.

Dask runs a task where its inputs live. Children reading slices cut on one worker all
queue on that worker, so a small upstream's slices go round the workers (the children
follow them) while a big upstream's are cut where it lives (its data does not move).
Dask's task stream says which worker computed each slice and each child.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable

import pytest
from distributed import Client, get_task_stream

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner
from orchestrator.task_runners.dask.arguments import SPREAD_BYTES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CHILDREN = 16


@task
def items(count: int) -> list[int]:
    return list(range(count))


@task
def blocks(count: int, size: int) -> list[bytes]:
    return [bytes([i]) * size for i in range(count)]


@task
def slow_pid(item: object) -> int:
    time.sleep(0.2)  # long: every child goes alone, after the probe
    return os.getpid()


@task(name="total")
def pids(values: list[int]) -> list[int]:
    return values


def _run(address: str, source_of: Callable[[], object]) -> tuple[list[int], Counter[str]]:
    with Flow("placement") as flow:
        ran = pids(slow_pid.map(source_of()))
    with Client(address) as client, get_task_stream(client) as stream:
        state = flow.run(task_runner=DaskTaskRunner(address=address))
        client.sync(client.scheduler.get_task_stream)  # the stream has what ran
    assert state.is_successful(), state
    slices = Counter(t["worker"] for t in stream.data if "-slice-" in t["key"])
    return state.result()[ran].result(), slices


def test_a_small_upstreams_slices_go_round_the_workers_and_its_children_follow(
    process_address: str,
) -> None:
    ran, slices = _run(process_address, lambda: items(CHILDREN))
    assert len(slices) == 2, slices  # slices were cut on both workers
    per_worker = sorted(Counter(ran).values())
    assert len(per_worker) == 2, per_worker
    assert per_worker[0] >= CHILDREN // 2 - 2, per_worker  # about half each


def test_a_big_upstreams_slices_are_cut_where_it_lives(process_address: str) -> None:
    size = SPREAD_BYTES  # each block alone is as big as a spread source may be
    ran, slices = _run(process_address, lambda: blocks(4, size))
    assert len(ran) == 4
    assert len(slices) == 1, slices  # every slice on the worker holding the blocks
