"""Persistence workload: a map with checkpointing off, on, and a fully cached re-run.

    off       add_one mapped over range(N), then total (no result: nothing stored)
    on        the same with ``result=LocalResult(dir)`` and a ``{map_index}`` target:
              every child writes one file (local disk, a fresh directory per run)
    cached    the "on" flow again over the files the last "on" run wrote: every child
              finds its target and is Cached; the body never runs
    raw       (Dask runners) the same map on raw Dask, ``Client.map``, for reference

Reported as ratios, which hold on a noisy machine: on / off (target <= 1.5) and
first run / cached re-run (target >= 10 at 100,000 children). Each side runs ``--reps``
times in rotating order; the medians are compared. The issue's sizes are 10,000 and
100,000 children; on a shared machine run one small size::

    python -m benchmarks.persistence --n 2000 --runner sequential
    python -m benchmarks.persistence --n 10000,100000 --runner dask-threads --json p.json
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.runners import RunnerEnv, open_runner
from benchmarks.workloads import Options, _raw_mapreduce, _sum_add_one, add_one, total
from orchestrator import Flow
from orchestrator.results import LocalResult


def _flow(n: int, directory: Path | None) -> tuple[Flow, Any]:
    mapped = add_one
    if directory is not None:
        mapped = add_one.copy(result=LocalResult(dir=directory), target="add_one/{map_index}.pkl")
    with Flow(f"persistence-{n}") as flow:
        summed = total(values=mapped.map(x=range(n)))
    return flow, summed


def _timed_run(env: RunnerEnv, n: int, directory: Path | None) -> float:
    flow, summed = _flow(n, directory)
    gc.collect()
    env.settle()
    started = time.perf_counter()
    state = flow.run(task_runner=env.task_runner())
    value = state.result()[summed].result()
    elapsed = time.perf_counter() - started
    if value != _sum_add_one(n):
        raise RuntimeError(f"persistence-{n}: wrong total {value!r} ({state!r})")
    return elapsed


def measure(env: RunnerEnv, n: int, reps: int, root: Path) -> dict[str, Any]:
    """Median seconds of each side for ``n`` children, and the two ratios."""
    seconds: dict[str, list[float]] = {"off": [], "on": [], "cached": [], "raw": []}
    for rep in range(reps):
        directory = root / f"n{n}-rep{rep}"
        sides: list[tuple[str, Callable[[], float]]] = [
            ("off", functools.partial(_timed_run, env, n, None)),
            ("on", functools.partial(_timed_run, env, n, directory)),
        ]
        if env.client is not None:
            sides.append(("raw", functools.partial(_raw_seconds, env, n)))
        turn = rep % len(sides)
        for name, side in sides[turn:] + sides[:turn]:
            seconds[name].append(side())
        seconds["cached"].append(_timed_run(env, n, directory))  # after "on" wrote the files
        shutil.rmtree(directory, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in seconds.items() if values}
    return {
        "n": n,
        "runner": env.name,
        "seconds": medians,
        "on_over_off": medians["on"] / medians["off"],
        "first_over_cached": medians["on"] / medians["cached"],
    }


def _raw_seconds(env: RunnerEnv, n: int) -> float:
    env.settle()
    started = time.perf_counter()
    _raw_mapreduce(env.client, n, Options())
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.persistence", description=__doc__)
    parser.add_argument("--n", default="10000", help="comma-separated child counts")
    parser.add_argument("--runner", default="sequential", help="sequential, dask-threads, ...")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    env = open_runner(args.runner)
    root = Path(tempfile.mkdtemp(prefix="orchestrator-persistence-"))
    rows = []
    try:
        for n in (int(part) for part in args.n.split(",")):
            row = measure(env, n, args.reps, root)
            rows.append(row)
            shown = ", ".join(f"{k} {v:.3f}s" for k, v in row["seconds"].items())
            print(
                f"persistence n={n} runner={env.name}: {shown}; on/off "
                f"{row['on_over_off']:.2f}x (target <= 1.5), first/cached "
                f"{row['first_over_cached']:.2f}x (target >= 10)"
            )
    finally:
        env.close()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
