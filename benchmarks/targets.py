"""The targets of issues 5 and 15, checked against whatever rows a run produced.

Each target selects rows, reads one number per row and compares it with a limit. A
target is ``met`` when every selected row meets it, ``missed`` when one does not, and
``not measured`` when the run had no such row (run the command in ``README.md``).
Timings are never turned into test failures; this is a report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Target:
    label: str
    select: Callable[[Row], bool]
    value: Callable[[Row], float | None]
    limit: float
    unit: str
    #: show only the row furthest from the limit (targets over many rows)
    worst_only: bool = False

    def check(self, rows: Sequence[Row]) -> dict[str, Any]:
        chosen = [r for r in rows if self.select(r)]
        values = [(r, self.value(r)) for r in chosen]
        measured = [(r, v) for r, v in values if v is not None]
        if self.worst_only and measured:
            worst = max(measured, key=lambda pair: pair[1])
            measured = [worst] + [
                (r, v) for r, v in measured if v > self.limit and r is not worst[0]
            ]
        shown = ", ".join(
            f"{r['workload']} {r['runner']}/{r['api']} N={r['n']:,}: {_fmt(v, self.unit)}"
            for r, v in measured
        )
        if not measured:
            problems = "; ".join(r["note"] for r in chosen if r.get("note"))
            status, shown = "not measured", problems[:200]
        else:
            status = "met" if all(v <= self.limit for _, v in measured) else "missed"
        return {"target": self.label, "status": status, "measured": shown}


def _fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "%":
        return f"{value:.4f}%"
    return f"{value:,.1f} {unit}"


def _is(
    workloads: tuple[str, ...], n: int, runners: tuple[str, ...], apis: tuple[str, ...]
) -> Callable[[Row], bool]:
    return lambda r: (
        r["workload"] in workloads and r["n"] == n and r["runner"] in runners and r["api"] in apis
    )


def _ratio(row: Row) -> float | None:
    ratio: float | None = row.get("ratio")
    return ratio


def _received_percent(row: Row) -> float | None:
    received = (row.get("received") or {}).get("ours")
    if not received:
        return None
    return 100 * float(received["client"]) / float(row["data_bytes"])


_MAPS = ("mapreduce", "map2")
_THREADS = ("dask-threads",)
_DASK = ("dask-threads", "dask-procs")
_BATCHED = ("dag", "flow")

TARGETS = (
    Target(
        "mapreduce, map2 at N=100,000 on processes=False: >= 10x faster than raw Dask",
        _is(_MAPS, 100_000, _THREADS, _BATCHED),
        _ratio,
        0.1,
        "x",
    ),
    Target(
        "mapreduce, map2 at N=10,000 on processes=False: >= 5x faster than raw Dask",
        _is(_MAPS, 10_000, _THREADS, _BATCHED),
        _ratio,
        0.2,
        "x",
    ),
    Target(
        "batching off (batch_size=1) at N=10,000: <= 1.3x raw Dask",
        _is(_MAPS, 10_000, _THREADS, ("dag-b1", "flow-b1")),
        _ratio,
        1.3,
        "x",
    ),
    Target(
        "fanout at N=10,000: <= 1.3x raw Dask",
        _is(("fanout",), 10_000, _THREADS, _BATCHED),
        _ratio,
        1.3,
        "x",
    ),
    Target(
        "16 children sleeping 0.5 s on 2 worker threads: <= 4.6 s",
        _is(("long",), 16, _DASK, _BATCHED),
        lambda r: r.get("ours_s"),
        4.6,
        "s",
    ),
    Target(
        "chain at N=1,000: <= 1.5x raw Dask",
        _is(("chain",), 1_000, _THREADS, _BATCHED),
        _ratio,
        1.5,
        "x",
    ),
    Target(
        "sequential runner: <= 30 µs overhead per task run over the plain loop at N=10,000",
        _is(("mapreduce", "map2", "fanout"), 10_000, ("sequential",), _BATCHED),
        lambda r: r.get("overhead_us"),
        30.0,
        "µs",
    ),
    Target(
        "peak RSS growth <= 2 KB per task run at N=100,000",
        _is(("mapreduce", "map2", "fanout"), 100_000, ("sequential", *_DASK), _BATCHED),
        lambda r: r.get("rss_per_task"),
        2048.0,
        "B",
    ),
    Target(
        "the 1,000,000-child map completes",
        _is(("mapreduce",), 1_000_000, ("sequential", *_DASK), _BATCHED),
        lambda r: r.get("ours_s") or float("inf"),
        float("1e9"),
        "s",
    ),
    Target(
        "locality: bytes the orchestrator receives < 1% of the data",
        lambda r: r["workload"] == "locality" and r["runner"] in _DASK and r["api"] in _BATCHED,
        _received_percent,
        1.0,
        "%",
    ),
)


_DASK_ROWS = ("dag", "dag-b1", "flow", "flow-b1")

#: issue 15: every shape faster than raw Dask, the million-child map in 20 s
ISSUE_15_TARGETS = (
    Target(
        "fanout N=10,000, DAG and @flow: <= 0.2x raw Dask",
        _is(("fanout",), 10_000, _THREADS, _BATCHED),
        _ratio,
        0.2,
        "x",
    ),
    Target(
        "chain N=1,000: <= 0.2x raw Dask",
        _is(("chain",), 1_000, _THREADS, _BATCHED),
        _ratio,
        0.2,
        "x",
    ),
    Target(
        "mapreduce N=100,000: <= 0.02x raw Dask client.map",
        _is(("mapreduce",), 100_000, _THREADS, _BATCHED),
        _ratio,
        0.02,
        "x",
    ),
    Target(
        "1,000,000-child map: <= 20 s end to end",
        _is(("mapreduce",), 1_000_000, _THREADS, _BATCHED),
        lambda r: r.get("ours_s") or float("inf"),
        20.0,
        "s",
    ),
    Target(
        "1,000,000-child map: orchestrator peak RSS growth <= 1 KB per task run",
        _is(("mapreduce",), 1_000_000, _THREADS, _BATCHED),
        lambda r: r.get("rss_per_task"),
        1024.0,
        "B",
    ),
    Target(
        "long tasks (16 x 0.5 s on 2 threads): <= 4.3 s",
        _is(("long",), 16, _THREADS, _BATCHED),
        lambda r: r.get("ours_s"),
        4.3,
        "s",
    ),
    Target(
        "no shape slower than 1.1x raw Dask, batching or not",
        lambda r: r["runner"] in _DASK and r["api"] in _DASK_ROWS and r["baseline"] == "dask",
        _ratio,
        1.1,
        "x",
        worst_only=True,
    ),
)

#: the reports a run prints, each a heading and its targets
TARGET_SETS = (("Issue-5 targets", TARGETS), ("Issue-15 targets", ISSUE_15_TARGETS))


def check_targets(rows: Sequence[Row], targets: Sequence[Target] = TARGETS) -> list[dict[str, Any]]:
    return [target.check(rows) for target in targets]


def report_targets(rows: Sequence[Row]) -> str:
    """Every target set's table, headed, for the console."""
    return "\n\n".join(
        f"{heading}\n{format_targets(check_targets(rows, targets))}"
        for heading, targets in TARGET_SETS
    )


def format_targets(results: Sequence[dict[str, Any]]) -> str:
    lines = ["| target | status | measured |", "|---|---|---|"]
    lines += [f"| {r['target']} | {r['status']} | {r['measured']} |" for r in results]
    return "\n".join(lines)
