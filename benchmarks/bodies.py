"""Task bodies shared by every side of a benchmark: trivial, so the overhead shows.

Module-level functions, so Dask pickles them by reference and worker processes
import them from here. The orchestrator's tasks (``workloads``), the raw-Dask
baselines and the plain loops all call exactly these functions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

#: size of one block in the locality workload
BLOCK_BYTES = 1024 * 1024


def add_one(x: int) -> int:
    """``x + 1``."""
    return x + 1


def double(x: int) -> int:
    """``2 * x``."""
    return 2 * x


def total(values: Sequence[int]) -> int:
    """The sum of ``values``."""
    return sum(values)


def nap(x: int, seconds: float) -> int:
    """Sleep ``seconds`` (a long child), then return ``x``."""
    time.sleep(seconds)
    return x


def make_blocks(count: int) -> list[bytes]:
    """``count`` blocks of ``BLOCK_BYTES`` random (so incompressible) bytes."""
    rng = random.Random(count)
    return [rng.randbytes(BLOCK_BYTES) for _ in range(count)]


def block_length(block: bytes) -> int:
    """The length of one block: the only thing that should leave the worker."""
    return len(block)
