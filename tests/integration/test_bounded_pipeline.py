"""A load -> transform -> save pipeline of large items on workers with a memory limit.

Two worker processes with ``memory_limit="1GB"`` each; 150 items of 10 MB (1.5 GB loaded
in all). Without a bound Dask runs the map breadth first: every loaded item is alive before
the first save, so the workers spill, pause or are restarted by their nannies. With
``Flow(max_in_flight=8)`` (or ``@flow(max_in_flight=8)``) at most 8 branches are alive and
the run completes far below the limit. Memory is measured on the worker processes
(``benchmarks.pipeline.WorkerMemory``: psutil RSS samples) and from Dask's own disk-write
counter; the figures are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import pytest

from benchmarks.pipeline import PipelineRun, limited_cluster, run_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ITEMS = 150
ITEM_BYTES = 10_000_000
BOUND = 8
#: seconds the unbounded run gets: restarted workers can make it take minutes to fail, and
#: what it shows (memory at the limit) is known well before
UNBOUNDED_DEADLINE = 60.0


def _run(bound: int | None, deadline: float | None = None, api: str = "dag") -> PipelineRun:
    with limited_cluster("1GB") as (client, address):
        run = run_pipeline(client, address, ITEMS, ITEM_BYTES, bound, deadline, api)
    print(
        f"\n{api} {run.side}: {run.state}, peak worker RSS {run.peak_worker_rss / 1e6:.0f} MB of "
        f"{run.memory_limit / 1e6:.0f} MB, spilled {run.spilled_bytes / 1e6:.0f} MB, "
        f"workers restarted: {run.workers_restarted}, {run.seconds:.1f} s"
    )
    return run


def test_a_bounded_pipeline_completes_far_below_the_memory_limit_that_an_unbounded_one_hits():
    unbounded = _run(None, UNBOUNDED_DEADLINE)
    bounded = _run(BOUND)

    assert bounded.state == "Success"
    assert bounded.saved_bytes == ITEMS * ITEM_BYTES  # every branch went through save
    assert not bounded.workers_restarted
    assert bounded.spilled_bytes == 0
    assert bounded.peak_worker_rss < 0.5 * bounded.memory_limit

    # without the bound the same pipeline reaches the limit: spilled, paused or restarted
    assert (
        unbounded.workers_restarted
        or unbounded.spilled_bytes > 0
        or unbounded.peak_worker_rss > 0.6 * unbounded.memory_limit
    )
    assert unbounded.peak_worker_rss > 2 * bounded.peak_worker_rss


def test_a_bounded_flow_function_pipeline_stays_as_far_below_the_limit():
    """The same pipeline written as a ``@flow`` function with ``max_in_flight=8``."""
    bounded = _run(BOUND, api="flow")

    assert bounded.state == "Completed"
    assert bounded.saved_bytes == ITEMS * ITEM_BYTES
    assert not bounded.workers_restarted
    assert bounded.spilled_bytes == 0
    assert bounded.peak_worker_rss < 0.5 * bounded.memory_limit
