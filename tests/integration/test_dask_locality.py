"""Data stays on the workers: the orchestrator's memory does not grow with the data.

One task returns about 200 MB in 40 blocks; a length task maps over them and a sum
reduces the lengths. The blocks move worker to worker (each child receives a slice cut
where the list lives), so this process's peak memory grows by far less than the data.
"""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from orchestrator import Flow, task
from orchestrator.task_runners import DaskTaskRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BLOCKS = 40
BLOCK_BYTES = 5_000_000


@task
def load_blocks(count: int, size: int) -> list[bytes]:
    return [bytes([i % 256]) * size for i in range(count)]


@task
def length(block: bytes) -> int:
    return len(block)


@task(name="total")
def total(lengths: list[int]) -> int:
    return sum(lengths)


class PeakRss:
    """This process's peak resident memory while the block runs, sampled every 5 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.base = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def test_mapping_over_200_mb_of_blocks_keeps_the_data_out_of_the_orchestrator(
    process_address: str,
) -> None:
    with Flow("locality") as flow:
        blocks = load_blocks(BLOCKS, BLOCK_BYTES)
        lengths = length.map(block=blocks)
        summed = total(lengths)
    runner = DaskTaskRunner(address=process_address)
    flow.run(task_runner=runner)  # warm: the client, the plugin, imports
    with PeakRss() as memory:
        state = flow.run(task_runner=runner)
        time.sleep(0.05)
    assert state.result()[summed].result() == BLOCKS * BLOCK_BYTES
    assert state.result()[lengths].result() == [BLOCK_BYTES] * BLOCKS
    assert memory.growth < BLOCKS * BLOCK_BYTES / 20, f"grew by {memory.growth / 1e6:.0f} MB"
