"""Adaptive batching of mapped children: how many children one Dask task runs.

Dask pays about a millisecond or two per task; a short child's work is far less. So
the Dask runner runs mapped children in batches, sized the way joblib's auto batching
sizes them: from measured child durations, aiming at batches of about
``TARGET_BATCH_SECONDS``, but never so few batches that a worker thread idles while
another works through a long tail (at least ``MIN_BATCHES_PER_THREAD`` per thread).

    no measurement yet  -> run a probe: the first ``threads`` children, one per Dask task,
                           then size the rest from how long they took (or from how long
                           they have been running, for long children); with many children
                           left, run one round of batches of that size and re-size the
                           rest from the round's warm children
    seconds per child d -> size = min(TARGET_BATCH_SECONDS / d,
                                      children / (MIN_BATCHES_PER_THREAD * threads))

Durations are remembered per task (``DurationEstimates``, an exponential moving
average), so later mapped levels and later flow runs skip the probe. A task's own
``batch_size`` wins: 1 turns batching off, N > 1 fixes the size. Pure: no Dask.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

#: how long one batch should run: long enough to hide Dask's per-task cost
TARGET_BATCH_SECONDS = 0.2
#: batches per worker thread, at least, so long children spread over every thread
MIN_BATCHES_PER_THREAD = 4
#: a probe child running this long already means children are long: batches of one
LONG_CHILD_SECONDS = 0.25
#: weight of a new measurement in the moving average
SMOOTHING = 0.3
#: a level with more than this many probe-sized rounds left runs one round first and is
#: re-sized from it: probe children pay one-off costs (imports, the first file opened), so
#: a probe can read 50x a warm child's time and cut the level into batches far too small
CALIBRATE_AFTER = 8
#: how long the re-sizing waits for its round at most (a slow round keeps the probe's size)
CALIBRATE_PATIENCE_SECONDS = 2.0


@dataclass(frozen=True)
class BatchDecision:
    """How to run ``count`` children: a probe first (sizes unknown), or fixed ranges."""

    #: children to run alone before deciding (0: no probe)
    probe: int
    #: batch size for the children after the probe (None: decide after the probe)
    size: int | None


def decide(
    count: int, threads: int, batch_size: int | None, seconds_per_child: float | None
) -> BatchDecision:
    """The batching of a mapped level of ``count`` children on ``threads`` worker threads.

    >>> decide(100_000, threads=2, batch_size=None, seconds_per_child=20e-6)
    BatchDecision(probe=0, size=10000)
    >>> decide(16, threads=2, batch_size=None, seconds_per_child=None)
    BatchDecision(probe=2, size=None)
    >>> decide(16, threads=2, batch_size=1, seconds_per_child=None)
    BatchDecision(probe=0, size=1)
    """
    threads = max(1, threads)
    if batch_size is not None:
        return BatchDecision(0, max(1, batch_size))
    if count <= 2 * threads:
        return BatchDecision(0, 1)
    if seconds_per_child is None:
        return BatchDecision(threads, None)
    return BatchDecision(0, batch_size_for(count, threads, seconds_per_child))


def batch_size_for(count: int, threads: int, seconds_per_child: float) -> int:
    """Children per batch: about ``TARGET_BATCH_SECONDS`` of work, enough batches to spread.

    >>> batch_size_for(16, threads=2, seconds_per_child=0.5)
    1
    >>> batch_size_for(10_000, threads=2, seconds_per_child=0.001)
    200
    """
    ideal = TARGET_BATCH_SECONDS / max(seconds_per_child, 1e-9)
    spread = math.ceil(count / (MIN_BATCHES_PER_THREAD * max(1, threads)))
    return max(1, min(int(ideal), spread))


def estimate_from_probe(finished: Sequence[float], running: Sequence[float]) -> float | None:
    """Seconds per child from a probe: mean of finished children's durations, or, when
    none finished, a lower bound from children running for ``LONG_CHILD_SECONDS`` or more.

    >>> estimate_from_probe([0.001, 0.003], [])
    0.002
    >>> estimate_from_probe([], [0.3])
    0.3
    >>> estimate_from_probe([], [0.1]) is None
    True
    """
    if finished:
        return sum(finished) / len(finished)
    long_running = [seconds for seconds in running if seconds >= LONG_CHILD_SECONDS]
    return max(long_running) if long_running else None


def calibrates(left: int, round_size: int, seconds: float) -> bool:
    """Whether a level re-sizes from a round of ``round_size`` warm children after its probe
    read ``seconds`` per child: worth it when many rounds are left and children were not
    found long (a probe read of 0.1-0.25 s, batches of one, may still be one-off costs).

    >>> calibrates(5000, 20, 0.02), calibrates(5000, 2, 0.15), calibrates(5000, 2, 0.3)
    (True, True, False)
    >>> calibrates(100, 20, 0.02)
    False
    """
    return 0 < seconds < LONG_CHILD_SECONDS and left > CALIBRATE_AFTER * round_size


def median_seconds(durations: Sequence[float]) -> float | None:
    """Median seconds per child of a calibration round (None: nothing measured).

    >>> median_seconds([0.002, 0.00003, 0.00004])
    4e-05
    >>> median_seconds([]) is None
    True
    """
    return statistics.median_high(durations) if durations else None


def split(
    start: int, stop: int, size: int, boundaries: Sequence[int] = ()
) -> list[tuple[int, int]]:
    """Ranges ``[a, b)`` covering ``start..stop`` of at most ``size`` children, also cut at
    ``boundaries`` (an upstream level's batch edges, so each batch reads one upstream batch).

    >>> split(0, 10, 4)
    [(0, 4), (4, 8), (8, 10)]
    >>> split(0, 10, 4, boundaries=[3])
    [(0, 3), (3, 7), (7, 10)]
    """
    cuts = sorted({b for b in boundaries if start < b < stop})
    ranges: list[tuple[int, int]] = []
    for low, high in zip([start, *cuts], [*cuts, stop], strict=True):
        ranges.extend((a, min(a + size, high)) for a in range(low, high, max(1, size)))
    return ranges


class DurationEstimates:
    """Seconds per child of each task, smoothed over every batch measured. Thread-safe."""

    def __init__(self) -> None:
        self._seconds: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def get(self, task_id: Hashable) -> float | None:
        return self._seconds.get(task_id)

    def add(self, task_id: Hashable, seconds: float, children: int = 1) -> None:
        """Record that ``children`` children took ``seconds`` in all."""
        if children <= 0:
            return
        per_child = seconds / children
        with self._lock:
            old = self._seconds.get(task_id)
            self._seconds[task_id] = (
                per_child if old is None else ((1 - SMOOTHING) * old + SMOOTHING * per_child)
            )
