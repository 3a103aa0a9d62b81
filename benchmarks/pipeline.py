"""Pipeline workload: a deep map of large items in bounded worker memory (issue 15).

    load       item i -> ``item_bytes`` of data (touched, so it counts in the RSS)
    transform  nth-to-nth over load: a new object of the same size
    save       nth-to-nth over transform: its length (small)
    saved      one reduce of every save child (their count of bytes)

It runs twice on one cluster of two worker processes with a memory limit each: without a
bound (Dask then runs it breadth first: every loaded item is alive before the first
transform) and with ``Flow(max_in_flight=k)``. A thread samples the RSS of the worker
processes (psutil, every ``SAMPLE_SECONDS``); after each run the workers report what
they spilled to disk. The issue's figures are 10,000 items of 10 MB on 2 workers with
1 GB each::

    python -m benchmarks.pipeline                         # 10,000 x 10 MB, bound 16
    python -m benchmarks.pipeline --n 200 --item-mb 10    # a quick look
    python -m benchmarks.pipeline --sides bounded         # skip the unbounded run
    python -m benchmarks.pipeline --deadline 120          # give a run up after 120 s
    python -m benchmarks.pipeline --api flow              # the same as a @flow function

Without the bound the run spills gigabytes (or its workers are restarted, and it fails);
``tests/integration/test_bounded_pipeline.py`` runs a small one of each.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.logs import quiet_logs
from orchestrator import Flow, flow, task, unmapped

#: seconds between two samples of the workers' RSS
SAMPLE_SECONDS = 0.05
#: the default bound of the bounded run
DEFAULT_BOUND = 16


def _load(i: int, size: int) -> bytes:
    return bytes([i % 251]) * size  # written page by page: real memory, not zero pages


def _transform(data: bytes) -> bytes:
    return data.translate(_SHIFT)


def _save(data: bytes) -> int:
    return len(data)


def _saved(lengths: list[int]) -> int:
    return sum(lengths)


_SHIFT = bytes((b + 1) % 256 for b in range(256))
load = task(_load, name="load")
transform = task(_transform, name="transform")
save = task(_save, name="save")
saved = task(_saved, name="saved")


def pipeline_flow(n: int, item_bytes: int, bound: int | None) -> tuple[Flow, Any]:
    """load -> transform -> save over ``n`` items, then one reduce; ``bound`` branches alive
    at once (None: no bound)."""
    with Flow(f"pipeline-{n}", max_in_flight=bound) as flow:
        loaded = load.map(i=list(range(n)), size=unmapped(item_bytes))
        total = saved(save.map(transform.map(loaded)))
    return flow, total


def pipeline_function(n: int, item_bytes: int, bound: int | None, runner: Any) -> Any:
    """The same pipeline as a ``@flow`` function (``@flow(max_in_flight=bound)``)."""

    def pipeline() -> Any:
        loaded = load.map(range(n), size=unmapped(item_bytes))
        return saved(save.map(transform.map(loaded)))

    return flow(pipeline, name=f"pipeline-{n}", task_runner=runner, max_in_flight=bound)


@dataclass
class WorkerMemory:
    """Peak RSS per worker process while ``sampling()`` runs (psutil on their PIDs)."""

    pids: Sequence[int]
    #: per PID: the largest RSS seen, in bytes
    peaks: dict[int, int] = field(default_factory=dict)

    @contextmanager
    def sampling(self) -> Iterator[WorkerMemory]:
        import psutil  # type: ignore[import-untyped]  # no stubs installed

        processes = [psutil.Process(pid) for pid in self.pids]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                for process in processes:
                    try:
                        rss = process.memory_info().rss
                    except psutil.Error:  # a worker the nanny restarted: its PID is gone
                        continue
                    self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), rss)
                stop.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, name="worker-memory", daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            stop.set()
            sampler.join()

    @property
    def peak(self) -> int:
        """The largest RSS of any one worker process."""
        return max(self.peaks.values(), default=0)


def _worker_pid() -> int:
    import os

    return os.getpid()


def _spilled_to_disk(dask_worker: Any) -> int:
    """Bytes this worker has written to disk since it started (Dask's ``disk-write``
    metric, kept per activity: summed over all)."""
    return int(
        sum(
            value
            for key, value in dask_worker.digests_total.items()
            if isinstance(key, tuple) and "disk-write" in key and key[-1] == "bytes"
        )
    )


@dataclass
class PipelineRun:
    """What one run of the pipeline did."""

    side: str
    bound: int | None
    n: int
    item_bytes: int
    seconds: float
    state: str
    #: ``saved``'s result: all bytes saved (``n * item_bytes`` when every branch finished)
    saved_bytes: int | None
    peak_worker_rss: int
    spilled_bytes: int
    memory_limit: int
    workers_restarted: bool
    #: ``dag`` (``with Flow(...)``) or ``flow`` (a ``@flow`` function)
    api: str = "dag"


def run_pipeline(
    client: Any,
    address: str,
    n: int,
    item_bytes: int,
    bound: int | None,
    deadline: float | None = None,
    api: str = "dag",
) -> PipelineRun:
    """Run the pipeline once on the cluster at ``address`` (``client`` is connected to it,
    for the workers' PIDs and counters).

    With ``deadline`` (seconds), a run still going then is reported as not finished: an
    unbounded run whose workers keep being restarted can take many minutes to fail, and
    its memory figures are known long before. Closing the cluster ends that run (the
    runner reports the lost scheduler), so the caller closes it right after."""
    pids = list(client.run(_worker_pid).values())
    spilled_before = sum(client.run(_spilled_to_disk).values())
    limit = min(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
    memory = WorkerMemory(pids)
    started = time.perf_counter()
    result: dict[str, Any] = {"outcome": f"not finished in {deadline} s", "saved": None}
    with memory.sampling():
        runner = threading.Thread(
            target=_run_into, args=(api, n, item_bytes, bound, address, result), daemon=True
        )
        runner.start()
        runner.join(deadline)
    outcome, saved_bytes = result["outcome"], result["saved"]
    seconds = time.perf_counter() - started
    after = client.run(_worker_pid)
    return PipelineRun(
        side="bounded" if bound else "unbounded",
        bound=bound,
        n=n,
        item_bytes=item_bytes,
        seconds=seconds,
        state=outcome,
        saved_bytes=saved_bytes,
        peak_worker_rss=memory.peak,
        spilled_bytes=sum(client.run(_spilled_to_disk).values()) - spilled_before,
        memory_limit=int(limit),
        workers_restarted=sorted(after.values()) != sorted(pids),
        api=api,
    )


def _run_into(
    api: str, n: int, item_bytes: int, bound: int | None, address: str, result: dict[str, Any]
) -> None:
    """Run the pipeline on ``address``; its outcome and saved bytes go into ``result``."""
    from orchestrator.task_runners import DaskTaskRunner

    runner = DaskTaskRunner(address=address)
    try:
        if api == "flow":
            state = pipeline_function(n, item_bytes, bound, runner)()
            total_state = state  # a returned future resolves into the flow's own result
        else:
            dag, total = pipeline_flow(n, item_bytes, bound)
            state = dag.run(task_runner=runner)
            total_state = state.result()[total]
    except Exception as err:  # boundary: a run that breaks is a result here too
        result["outcome"] = f"raised {type(err).__name__}"
        return
    result["saved"] = total_state.result() if total_state.is_successful() else None
    result["outcome"] = type(state).__name__


@contextmanager
def limited_cluster(memory_limit: str = "1GB", workers: int = 2) -> Iterator[tuple[Any, str]]:
    """A ``LocalCluster`` of ``workers`` single-thread worker processes with ``memory_limit``
    each, and a client connected to it."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(  # type: ignore[no-untyped-call]  # distributed is untyped
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]  # untyped
    ):
        yield client, cluster.scheduler_address


def _mb(value: int) -> str:
    return f"{value / 1e6:,.0f} MB"


def _report(runs: Sequence[PipelineRun]) -> str:
    lines = [
        "| api | side | bound | items | item | seconds | state | peak worker RSS | limit "
        "| spilled | workers restarted |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.api} | {r.side} | {r.bound or '-'} | {r.n:,} | {_mb(r.item_bytes)} "
            f"| {r.seconds:.1f} | {r.state} | {_mb(r.peak_worker_rss)} | {_mb(r.memory_limit)} "
            f"| {_mb(r.spilled_bytes)} | {r.workers_restarted} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__)
    parser.add_argument("--n", type=int, default=10_000, help="items (branches)")
    parser.add_argument("--item-mb", type=float, default=10.0, help="MB per loaded item")
    parser.add_argument("--bound", type=int, default=DEFAULT_BOUND, help="max_in_flight")
    parser.add_argument("--memory-limit", default="1GB", help="per worker")
    parser.add_argument("--sides", default="unbounded,bounded", help="unbounded,bounded")
    parser.add_argument("--json", help="write the runs to this file")
    parser.add_argument("--deadline", type=float, help="seconds before a run is given up")
    parser.add_argument("--api", default="dag", choices=["dag", "flow"], help="Flow or @flow")
    args = parser.parse_args(argv)
    item_bytes = int(args.item_mb * 1e6)
    runs = []
    os.environ.setdefault("ORCHESTRATOR_LOG_LEVEL", "WARNING")  # workers and @flow runs too
    for side in args.sides.split(","):
        with quiet_logs(), limited_cluster(args.memory_limit) as (client, address):
            bound = args.bound if side == "bounded" else None  # a fresh cluster each side
            runs.append(
                run_pipeline(client, address, args.n, item_bytes, bound, args.deadline, args.api)
            )
        print(_report(runs[-1:]).splitlines()[-1], flush=True)
    print(_report(runs))
    if args.json:
        with open(args.json, "w") as out:
            json.dump([asdict(r) for r in runs], out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
