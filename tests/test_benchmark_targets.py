"""The benchmark's target report: which rows a target reads and how it decides.

Rows here are written by hand in the shape the harness saves; no timing is measured.
"""

from __future__ import annotations

from typing import Any

from benchmarks.targets import ISSUE_15_TARGETS, check_targets, report_targets


def _row(workload: str, n: int, runner: str, api: str, ratio: float, **extra: Any) -> dict:
    return {
        "workload": workload,
        "n": n,
        "runner": runner,
        "api": api,
        "baseline": "dask",
        "ratio": ratio,
        "note": "",
        **extra,
    }


def _status(rows: list[dict], label_start: str) -> dict[str, str]:
    results = check_targets(rows, ISSUE_15_TARGETS)
    (result,) = [r for r in results if r["target"].startswith(label_start)]
    return result


def test_a_target_is_met_only_when_every_selected_row_meets_it() -> None:
    rows = [
        _row("fanout", 10_000, "dask-threads", "dag", 0.15),
        _row("fanout", 10_000, "dask-threads", "flow", 0.25),
    ]
    assert _status(rows, "fanout")["status"] == "missed"
    rows[1]["ratio"] = 0.19
    assert _status(rows, "fanout")["status"] == "met"


def test_rows_of_other_sizes_or_runners_are_not_measured_against_a_target() -> None:
    rows = [
        _row("chain", 100, "dask-threads", "dag", 5.0),
        _row("chain", 1_000, "dask-procs", "dag", 5.0),
    ]
    assert _status(rows, "chain")["status"] == "not measured"


def test_the_no_slower_than_raw_dask_target_names_the_worst_row_and_every_miss() -> None:
    rows = [
        _row("mapreduce", 200, "dask-threads", "dag-b1", 0.6),
        _row("chain", 100, "dask-procs", "flow", 1.3),
        _row("long", 16, "dask-threads", "dag", 1.2),
        _row("mapreduce", 200, "sequential", "dag", 250.0, baseline="loop"),
    ]
    result = _status(rows, "no shape")
    assert result["status"] == "missed"
    assert "chain dask-procs/flow N=100: 1.300x" in result["measured"]
    assert "long dask-threads/dag N=16: 1.200x" in result["measured"]
    assert "mapreduce" not in result["measured"]  # met rows are summed up by the worst


def test_the_million_child_map_target_reads_seconds_and_memory_per_task_run() -> None:
    rows = [_row("mapreduce", 1_000_000, "dask-threads", "dag", 0.0, ours_s=18.0, rss_per_task=900)]
    assert _status(rows, "1,000,000-child map: <= 20 s")["status"] == "met"
    assert _status(rows, "1,000,000-child map: orchestrator peak RSS")["status"] == "met"
    rows[0]["ours_s"] = 66.0
    assert _status(rows, "1,000,000-child map: <= 20 s")["status"] == "missed"


def test_the_report_heads_each_target_set() -> None:
    text = report_targets([])
    assert text.startswith("Issue-5 targets\n| target |")
    assert "\n\nIssue-15 targets\n| target |" in text
