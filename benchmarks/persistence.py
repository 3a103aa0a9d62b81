"""Persistence workload: a map with checkpointing off, on, and fully cached re-runs.

    off       add_one mapped over range(N), then total (no result: nothing stored)
    on        the same with ``result=LocalResult(dir)`` and no target: every child's
              result is checkpointed, appended to a container (one file per writing
              thread, ``taskrun.results.containers``)
    target    ``result=LocalResult(dir)`` and a ``{map_index}`` target: one file per child
    cached    the "target" flow again over the files it wrote, right after it: every
              child finds its target and is Cached; the body never runs (measured after
              raw Dask's 100,000 futures instead, an in-process scheduler's leftovers
              double it)
    index     ``cache_for`` with a ``LocalResult``: a first run (its results in containers,
              its cache index appended), then, with the in-process cache emptied as in a
              new process, a re-run whose children are Cached from the persisted index
              (runners whose workers are another process keep their own cache: skipped)
    raw       (Dask runners) the same map on raw Dask, ``Client.map``, for reference

Reported as ratios, which hold on a noisy machine: on / off (target <= 1.5), target /
off (a file per child: bound by the disk), target / cached (target >= 10 at 100,000
children) and index-first / index-cached. Each side runs ``--reps`` times in rotating
order; the medians are compared. Log lines below WARNING are off, as in ``python -m
benchmarks``. The issue's sizes are 10,000 and 100,000 children; on a shared machine run
one small size::

    python -m benchmarks.persistence --n 2000 --runner sequential
    python -m benchmarks.persistence --n 10000,100000 --runner dask-threads --json p.json
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from benchmarks.logs import quiet_logs
from benchmarks.runners import RunnerEnv, open_runner
from benchmarks.workloads import Options, _raw_mapreduce, _sum_add_one, add_one, total
from orchestrator import Flow
from orchestrator.results import LocalResult
from taskrun import cache_store

#: how each side's mapped task stores its results (None: it stores nothing)
_OPTIONS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "on": lambda d: {"result": LocalResult(dir=d)},
    "target": lambda d: {"result": LocalResult(dir=d), "target": "add_one/{map_index}.pkl"},
    "index": lambda d: {"result": LocalResult(dir=d), "cache_for": dt.timedelta(hours=1)},
}


def _flow(n: int, side: str, directory: Path | None) -> tuple[Flow, Any]:
    mapped = add_one
    if directory is not None and side in _OPTIONS:
        mapped = add_one.copy(**_OPTIONS[side](directory))
    with Flow(f"persistence-{n}") as flow:
        summed = total(values=mapped.map(x=range(n)))
    return flow, summed


def _timed_run(env: RunnerEnv, n: int, side: str, directory: Path | None) -> float:
    flow, summed = _flow(n, side, directory)
    gc.collect()
    env.settle()
    started = time.perf_counter()
    state = flow.run(task_runner=env.task_runner())
    value = state.result()[summed].result()
    elapsed = time.perf_counter() - started
    if value != _sum_add_one(n):
        raise RuntimeError(f"persistence-{n} ({side}): wrong total {value!r} ({state!r})")
    return elapsed


def _index_pair(env: RunnerEnv, n: int, directory: Path) -> tuple[float, float]:
    """(first run, re-run from the persisted index with the process cache emptied)."""
    cache_store.clear()
    first = _timed_run(env, n, "index", directory)
    cache_store.clear()  # as in a new process: only the index beside the results is left
    return first, _timed_run(env, n, "index", directory)


def measure(env: RunnerEnv, n: int, reps: int, root: Path) -> dict[str, Any]:
    """Median seconds of each side for ``n`` children, and the ratios."""
    seconds: dict[str, list[float]] = {
        "off": [], "on": [], "target": [], "cached": [], "index": [], "index-cached": [],
        "raw": [],
    }  # fmt: skip
    in_process = env.cluster is None or not env.cluster.processes
    for rep in range(reps):
        directory = root / f"n{n}-rep{rep}"
        sides: list[tuple[str, Callable[[], float]]] = [
            (side, functools.partial(_timed_run, env, n, side, directory / side))
            for side in ("off", "on", "target")
        ]
        if env.client is not None:
            sides.append(("raw", functools.partial(_raw_seconds, env, n)))
        turn = rep % len(sides)
        for name, side in sides[turn:] + sides[:turn]:
            seconds[name].append(side())
            if name == "target":  # its re-run next, before another side's leftovers weigh in
                seconds["cached"].append(_timed_run(env, n, "target", directory / "target"))
        if in_process:
            first, again = _index_pair(env, n, directory / "index")
            seconds["index"].append(first)
            seconds["index-cached"].append(again)
        shutil.rmtree(directory, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in seconds.items() if values}
    row: dict[str, Any] = {"n": n, "runner": env.name, "seconds": medians}
    row["on_over_off"] = medians["on"] / medians["off"]
    row["target_over_off"] = medians["target"] / medians["off"]
    row["target_over_cached"] = medians["target"] / medians["cached"]
    if "index" in medians:
        row["index_over_cached"] = medians["index"] / medians["index-cached"]
    return row


def _raw_seconds(env: RunnerEnv, n: int) -> float:
    env.settle()
    started = time.perf_counter()
    _raw_mapreduce(env.client, n, Options())
    return time.perf_counter() - started


def _shown(row: dict[str, Any]) -> str:
    seconds = ", ".join(f"{k} {v:.3f}s" for k, v in row["seconds"].items())
    ratios = (
        f"on/off {row['on_over_off']:.2f}x (target <= 1.5), target/off "
        f"{row['target_over_off']:.2f}x (a file per child); target/cached "
        f"{row['target_over_cached']:.2f}x (target >= 10 at 100,000)"
    )
    if "index_over_cached" in row:
        ratios += f", index/index-cached {row['index_over_cached']:.2f}x"
    return f"persistence n={row['n']} runner={row['runner']}: {seconds}; {ratios}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.persistence", description=__doc__)
    parser.add_argument("--n", default="10000", help="comma-separated child counts")
    parser.add_argument("--runner", default="sequential", help="sequential, dask-threads, ...")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    with quiet_logs():  # put back when the benchmark ends (smoke tests run it in-process)
        env = open_runner(args.runner)
        root = Path(tempfile.mkdtemp(prefix="orchestrator-persistence-"))
        rows = []
        try:
            for n in (int(part) for part in args.n.split(",")):
                row = measure(env, n, args.reps, root)
                rows.append(row)
                print(_shown(row), flush=True)
        finally:
            env.close()
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
