"""The measurement loop: one group = one workload at one size on one runner.

A group has contenders (our APIs: ``dag``, ``dag-b1`` = batching off, ``flow``, ...)
and one baseline (raw Dask on the same cluster, or a plain loop in this process).
Every repetition runs each of them once, rotating the order (rep 0: ours first, so
ours meets the coldest heap), which is the "A B A B" alternation: slow drift of the
machine hits both sides alike. Before each run, untimed: a full ``gc.collect()`` and
waiting until the Dask scheduler has released the previous run's tasks.

Each run is timed with ``perf_counter`` from building the work (DAG building, futures
submission) to holding the checked result, and watched by ``PeakGrowth`` (peak RSS)
and, for ``locality``, ``ReceivedBytes``. A wrong result aborts the contender.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.memory import PeakGrowth
from benchmarks.runners import RunnerEnv
from benchmarks.traffic import ReceivedBytes
from benchmarks.workloads import Options, Workload

#: ours-side APIs: name -> (uses @flow, batch size of mapped levels)
APIS: dict[str, tuple[bool, int | None]] = {
    "dag": (False, None),
    "dag-b1": (False, 1),
    "flow": (True, None),
    "flow-b1": (True, 1),
}


class BenchmarkError(Exception):
    """A run computed the wrong value or ended in a failed state."""


@dataclass
class Side:
    """One contender (or the baseline) and its samples."""

    api: str
    run: Callable[[], int] | None
    problem: str | None = None
    seconds: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    received: list[tuple[int, int]] = field(default_factory=list)
    leaked: int = 0

    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


def flow_decorator() -> Any:
    """``orchestrator.flow`` when the ``@flow`` API exists, else None."""
    import types

    import orchestrator

    candidate = getattr(orchestrator, "flow", None)
    if candidate is None or isinstance(candidate, types.ModuleType) or not callable(candidate):
        return None
    return candidate


def ours(workload: Workload, n: int, env: RunnerEnv, api: str, seconds: float) -> Side:
    """The contender running ``workload`` through our ``api`` on ``env``."""
    uses_flow, batch_size = APIS[api]
    options = Options(seconds=seconds, batch_size=batch_size)
    expected = workload.expected(n, options)
    if env.problem:
        return Side(api, None, env.problem)
    if uses_flow:
        decorate = flow_decorator()
        if decorate is None:
            return Side(api, None, "@flow API (orchestrator.flow) not available yet")

        def run_flow() -> int:
            function = decorate(name=f"{workload.name}-{n}", task_runner=env.task_runner())
            state = function(workload.flow_body)(n, options)
            return _checked(workload, api, state, state.result(raise_on_failure=False), expected)

        return Side(api, run_flow)

    def run_dag() -> int:
        flow, result = workload.build(n, options)
        state = flow.run(task_runner=env.task_runner())
        if not state.is_successful():
            return _checked(workload, api, state, None, expected)
        return _checked(workload, api, state, state.result()[result].result(), expected)

    return Side(api, run_dag)


def baseline(workload: Workload, n: int, env: RunnerEnv, seconds: float) -> Side:
    """Raw Dask on ``env``'s cluster, or the plain loop for the sequential runner."""
    options = Options(seconds=seconds)
    expected = workload.expected(n, options)
    if env.client is None:
        loop = workload.loop
        if loop is None:
            return Side("loop", None, f"{workload.name} has no in-process loop")
        return Side("loop", lambda: _equal(workload, "loop", loop(n, options), expected))
    client = env.client
    return Side(
        "dask", lambda: _equal(workload, "dask", workload.raw(client, n, options), expected)
    )


def measure(
    sides: list[Side], env: RunnerEnv, reps: int, time_cap: float, count_bytes: bool
) -> int:
    """Run every side ``reps`` times, alternating; fewer when a rep would pass ``time_cap``.

    Returns the repetitions done. A side that raises is dropped with its error as problem.
    """
    started = time.monotonic()
    done = 0
    for rep in range(reps):
        live = [s for s in sides if s.run is not None and s.problem is None]
        if not live:
            break
        shift = rep % len(live)
        for side in live[shift:] + live[:shift]:
            _run_once(side, env, count_bytes)
        done += 1
        elapsed = time.monotonic() - started
        if rep + 1 < reps and elapsed / done * (done + 1) > time_cap:
            break
    return done


def _run_once(side: Side, env: RunnerEnv, count_bytes: bool) -> None:
    assert side.run is not None
    gc.collect()
    env.settle(timeout=15.0)
    traffic = ReceivedBytes() if count_bytes else None
    try:
        with PeakGrowth() as peak:
            if traffic is not None:
                with traffic:
                    start = time.perf_counter()
                    side.run()
                    elapsed = time.perf_counter() - start
            else:
                start = time.perf_counter()
                side.run()
                elapsed = time.perf_counter() - start
    except Exception as err:  # a broken contender must not stop the other rows
        side.problem = f"{type(err).__name__}: {err}"[:300]
        return
    side.seconds.append(elapsed)
    side.rss.append(peak.bytes)
    if traffic is not None:
        side.received.append((traffic.client, traffic.other))
    side.leaked = max(side.leaked, env.settle(timeout=15.0))


def _checked(workload: Workload, api: str, state: Any, value: Any, expected: int) -> int:
    if not state.is_successful():
        raise BenchmarkError(f"{workload.name} via {api}: flow run ended {state!r}")
    return _equal(workload, api, value, expected)


def _equal(workload: Workload, side: str, value: Any, expected: int) -> int:
    if value != expected:
        raise BenchmarkError(
            f"{workload.name} via {side}: computed {value!r}, expected {expected!r}"
        )
    return int(value)
