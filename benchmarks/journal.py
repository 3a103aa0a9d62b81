"""Journal workload: what writing the run journal costs a map, on against off.

    off    add_one mapped over range(N), then total, with ``journal=False``
    on     the same with ``journal=True``, into a temporary ``ORCHESTRATOR_HOME``
           (a fresh ``runs.db`` per size)

Reported as the ratio of medians on / off (the issue's target: <= 1.10 at 100,000
children) and the journal writer thread's CPU time per task run (``RunRecorder.flush``,
timed with ``time.thread_time`` around each batch: building the records, packing them,
the SQLite transaction). Sides run ``--reps`` times in alternating order::

    python -m benchmarks.journal --n 10000,100000 --runner dask-threads
    python -m benchmarks.journal --n 2000 --runner sequential --reps 5
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.logs import quiet_logs
from benchmarks.runners import RunnerEnv, open_runner
from benchmarks.workloads import _sum_add_one, add_one, total
from orchestrator import Flow
from orchestrator.journal import recorder


class _WriterClock:
    """CPU seconds the writer spends in ``RunRecorder.flush`` (all threads, summed)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.records = 0

    @contextmanager
    def counting(self) -> Iterator[None]:
        original = recorder.RunRecorder.flush
        clock = self

        def timed(self: recorder.RunRecorder) -> None:
            started, before = time.thread_time(), self.written
            original(self)
            clock.seconds += time.thread_time() - started
            clock.records += self.written - before

        recorder.RunRecorder.flush = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            recorder.RunRecorder.flush = original  # type: ignore[method-assign]


def _timed_run(env: RunnerEnv, n: int, journal: bool) -> float:
    with Flow(f"journal-{n}") as flow:
        summed = total(values=add_one.map(x=range(n)))
    gc.collect()
    env.settle()
    started = time.perf_counter()
    state = flow.run(task_runner=env.task_runner(), journal=journal)
    value = state.result()[summed].result()
    elapsed = time.perf_counter() - started
    if value != _sum_add_one(n):
        raise RuntimeError(f"journal-{n} (journal={journal}): wrong total {value!r} ({state!r})")
    return elapsed


def measure(env: RunnerEnv, n: int, reps: int) -> dict[str, Any]:
    """Median seconds of each side for ``n`` children, their ratio, writer us per run."""
    home = tempfile.mkdtemp(prefix="orchestrator-journal-bench-")
    previous = os.environ.get("ORCHESTRATOR_HOME")
    os.environ["ORCHESTRATOR_HOME"] = home
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    clock = _WriterClock()
    try:
        for rep in range(reps):
            sides = ["off", "on"] if rep % 2 == 0 else ["on", "off"]
            for side in sides:
                if side == "on":
                    with clock.counting():
                        seconds[side].append(_timed_run(env, n, True))
                else:
                    seconds[side].append(_timed_run(env, n, False))
    finally:
        if previous is None:
            os.environ.pop("ORCHESTRATOR_HOME", None)
        else:
            os.environ["ORCHESTRATOR_HOME"] = previous
        shutil.rmtree(home, ignore_errors=True)
    medians = {side: statistics.median(values) for side, values in seconds.items()}
    return {
        "n": n,
        "runner": env.name,
        "seconds": medians,
        "on_over_off": medians["on"] / medians["off"],
        "writer_us_per_run": 1e6 * clock.seconds / max(clock.records, 1),
        "records": clock.records,
    }


def _shown(row: dict[str, Any]) -> str:
    return (
        f"| {row['n']:>7} | {row['runner']} | {row['seconds']['off']:.3f} | "
        f"{row['seconds']['on']:.3f} | {row['on_over_off']:.2f} | "
        f"{row['writer_us_per_run']:.1f} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.journal", description=__doc__)
    parser.add_argument("--n", default="10000", help="comma-separated child counts")
    parser.add_argument("--runner", default="dask-threads", help="sequential, dask-threads, ...")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    with quiet_logs():  # put back when the benchmark ends (smoke tests run it in-process)
        env = open_runner(args.runner)
        rows = []
        print("|       n | runner | off s | on s | on/off | writer us/run |", flush=True)
        print("|---|---|---|---|---|---|", flush=True)
        try:
            for n in (int(part) for part in args.n.split(",")):
                rows.append(measure(env, n, args.reps))
                print(_shown(rows[-1]), flush=True)
        finally:
            env.close()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
