"""Results on a real ``LocalCluster(processes=True)``: worker processes write and read them.

Checkpoints are written by the worker process that ran the task (the serializer stamps
its process id into the file), and the orchestrator's states know where (the summary
carries the location, also for a result that stays on its worker); a target hit skips
the body (each call appends a line to a counter file); a cached result of ~100 MB is
read on a worker and stays there, so this process's memory does not grow with it
(measured as the locality test does).
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Flow, task
from orchestrator.engine.state import Cached, Success
from orchestrator.results import LocalResult, PickleSerializer, result_location
from orchestrator.task_runners import DaskTaskRunner

from .test_dask_locality import PeakRss

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BIG_BYTES = 100_000_000


class PidStampingSerializer(PickleSerializer):
    """Pickles ``(writer's process id, value)``, so a test can tell who wrote a file."""

    def serialize(self, value: Any) -> bytes:
        return pickle.dumps((os.getpid(), value))

    def deserialize(self, blob: bytes) -> Any:
        return pickle.loads(blob)[1]


@task
def inc(x: int, counter: str) -> int:
    with open(counter, "a") as handle:
        handle.write(f"{x}\n")
    return x + 1


@task
def big(size: int) -> bytes:
    return b"x" * size


@task
def length(data: bytes) -> int:
    return len(data)


def children(state: Any, name: str) -> list[Any]:
    return next(s for t, s in state.result().items() if t.name == name).map_states


def test_checkpoints_are_written_by_the_worker_processes(process_address: str, tmp_path: Path):
    result = LocalResult(dir=tmp_path / "results", serializer=PidStampingSerializer())
    stored = inc.copy(result=result, target="{task_name}/{map_index}.pkl")
    with Flow("on-workers") as flow:
        stored.map(x=[1, 2, 3, 4], counter=[str(tmp_path / "calls")] * 4)
    state = flow.run(task_runner=DaskTaskRunner(address=process_address))
    assert state.is_successful()
    files = sorted((tmp_path / "results" / "inc").iterdir())
    assert [f.name for f in files] == ["0.pkl", "1.pkl", "2.pkl", "3.pkl"]
    writers = {pickle.loads(f.read_bytes())[0] for f in files}
    assert os.getpid() not in writers
    assert [pickle.loads(f.read_bytes())[1] for f in files] == [2, 3, 4, 5]
    assert [result_location(c) for c in children(state, "inc")] == [f"file://{f}" for f in files]


def test_a_target_hit_on_a_worker_skips_the_body(process_address: str, tmp_path: Path):
    counter = tmp_path / "calls"
    stored = inc.copy(result=LocalResult(dir=tmp_path / "results"), target="{map_index}.pkl")
    with Flow("target-hit") as flow:
        stored.map(x=[1, 2, 3], counter=[str(counter)] * 3)
    runner = DaskTaskRunner(address=process_address)
    first = flow.run(task_runner=runner)
    second = flow.run(task_runner=runner)
    assert [type(c) for c in children(first, "inc")] == [Success] * 3
    assert [type(c) for c in children(second, "inc")] == [Cached] * 3
    assert [c.result() for c in children(second, "inc")] == [2, 3, 4]
    assert sorted(counter.read_text().split()) == ["1", "2", "3"]  # the first run's calls only


def test_a_cached_big_result_is_read_on_a_worker_and_never_reaches_the_orchestrator(
    process_address: str, tmp_path: Path
):
    stored = big.copy(result=LocalResult(dir=tmp_path / "results"), target="big.bin")
    with Flow("big") as flow:
        data = stored(BIG_BYTES)
        measured = length(data)
    runner = DaskTaskRunner(address=process_address)
    assert flow.run(task_runner=runner).is_successful()  # writes the target (and warms up)
    assert (tmp_path / "results" / "big.bin").stat().st_size > BIG_BYTES
    with PeakRss() as memory:
        state = flow.run(task_runner=runner)
        time.sleep(0.05)
    assert isinstance(state.result()[data], Cached)
    assert result_location(state.result()[data]) == f"file://{tmp_path}/results/big.bin"
    assert state.result()[measured].result() == BIG_BYTES
    assert memory.growth < BIG_BYTES / 20, f"grew by {memory.growth / 1e6:.0f} MB"


def test_checkpoints_without_a_target_go_to_containers_the_workers_wrote(
    process_address: str, tmp_path: Path
):
    stored = inc.copy(result=LocalResult(dir=tmp_path / "results"))
    with Flow("containers") as flow:
        stored.map(x=list(range(20)), counter=[str(tmp_path / "calls")] * 20)
    state = flow.run(task_runner=DaskTaskRunner(address=process_address))
    assert state.is_successful()
    locations = [result_location(c) for c in children(state, "inc")]
    assert all(where is not None and ".results#" in where for where in locations)
    containers = list((tmp_path / "results" / "containers").glob("*/*.results"))
    assert 1 <= len(containers) < 20  # not a file per child
    writers = {int(c.name.split("-")[0]) for c in containers}  # named for the writing process
    assert os.getpid() not in writers
    reader = LocalResult(dir=tmp_path / "results")
    assert [reader.read(where) for where in locations if where] == list(range(1, 21))


@task
def total(values: list[int]) -> int:
    return sum(values)


def test_a_cached_rerun_on_a_cluster_the_runner_starts_leaves_every_read_to_the_workers(
    tmp_path: Path,
):
    """The runner's own ``LocalCluster`` shares this machine's disk: the orchestrator finds
    the children's targets in one pass and submits none of them; the values are read by
    the worker that runs the reduce, not here."""
    from taskrun.results.stored import StoredResult

    counter = tmp_path / "calls"
    stored = inc.copy(result=LocalResult(dir=tmp_path / "results"), target="{map_index}.pkl")
    with Flow("probe-on-processes") as flow:
        summed = total(stored.map(x=list(range(30)), counter=[str(counter)] * 30))
    options = {"n_workers": 2, "threads_per_worker": 1, "processes": True}
    with DaskTaskRunner(cluster_kwargs={**options, "dashboard_address": None}) as runner:
        first = flow.run(task_runner=runner)
        second = flow.run(task_runner=runner)
    assert first.result()[summed].result() == sum(range(1, 31))
    hits = children(second, "inc")
    assert [type(c) for c in hits] == [Cached] * 30
    assert all(isinstance(c._result, StoredResult) and not c._result.held for c in hits)
    assert second.result()[summed].result() == sum(range(1, 31))
    assert len(counter.read_text().split()) == 30  # the first run's calls only
