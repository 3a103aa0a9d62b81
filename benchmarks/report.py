"""Rows, the printed table, the JSON file and ``--compare`` against an earlier JSON.

A row is a plain dict (it goes to JSON as is):

    workload, n, runner, api         what ran; api is dag / dag-b1 / flow / ...
    baseline                         dask (raw Client.submit/map) or loop (plain Python)
    ours_s, base_s, ratio            medians over the repetitions; ratio = ours / baseline
    overhead_us                      (ours - baseline) / task runs, in microseconds
    rss_per_task                     largest peak-RSS growth of a run / task runs, bytes
    base_rss_per_task                the same for the baseline
    received                         locality only: bytes delivered to Dask clients here
    reps, task_runs, samples, note
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import Side

Row = dict[str, Any]


def make_rows(
    workload: str,
    n: int,
    runner: str,
    task_runs: int,
    reps: int,
    contenders: Sequence[Side],
    base: Side,
    notes: Iterable[str] = (),
    per_task: bool = True,
) -> list[Row]:
    """One row per contender, each against the shared baseline.

    ``per_task=False`` leaves the per-task columns empty (a scenario with no task runs).
    """
    base_s = base.median()
    rows = []
    for side in contenders:
        ours_s = side.median()
        note = [*notes]
        if side.problem:
            note.append(side.problem)
        if base.problem:
            note.append(f"baseline: {base.problem}")
        if side.leaked:
            note.append(f"{side.leaked} Dask tasks still held 15 s after the run")
        if reps < 3 and side.seconds:
            note.append(f"{reps} rep(s): time cap")
        row: Row = {
            "workload": workload,
            "n": n,
            "runner": runner,
            "api": side.api,
            "baseline": base.api,
            "task_runs": task_runs,
            "reps": reps,
            "ours_s": ours_s,
            "base_s": base_s,
            "ratio": ours_s / base_s if ours_s and base_s else None,
            "overhead_us": (ours_s - base_s) / task_runs * 1e6
            if ours_s and base_s and per_task
            else None,
            "rss_per_task": max(side.rss) / task_runs if side.rss and per_task else None,
            "base_rss_per_task": max(base.rss) / task_runs if base.rss and per_task else None,
            "samples": {"ours": side.seconds, "base": base.seconds},
            "note": "; ".join(note),
        }
        if side.received or base.received:
            row["received"] = {"ours": _max_pair(side.received), "base": _max_pair(base.received)}
            row["data_bytes"] = n * 1024 * 1024
        rows.append(row)
    return rows


def _max_pair(pairs: list[tuple[int, int]]) -> dict[str, int] | None:
    if not pairs:
        return None
    return {"client": max(p[0] for p in pairs), "other": max(p[1] for p in pairs)}


# ---- printing -----------------------------------------------------------------------------------
_COLUMNS = (
    "workload",
    "N",
    "runner",
    "api",
    "ours s",
    "base s",
    "ratio",
    "µs/task",
    "RSS B/task",
    "reps",
    "note",
)


def format_table(rows: Sequence[Row]) -> str:
    """A fixed-width text table (also valid Markdown)."""
    cells = [[_cell(r, c) for c in _COLUMNS] for r in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(_COLUMNS)]
    widths[-1] = len(_COLUMNS[-1])  # the note column stays ragged
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for line in cells:
        padded = (c.ljust(w) for c, w in zip(line, widths, strict=True))
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines)


def _cell(row: Row, column: str) -> str:
    match column:
        case "workload":
            return str(row["workload"])
        case "N":
            return f"{row['n']:,}" if isinstance(row.get("n"), int) else "-"
        case "runner":
            return str(row["runner"])
        case "api":
            return str(row["api"])
        case "ours s":
            return _num(row.get("ours_s"), 3)
        case "base s":
            base = _num(row.get("base_s"), 3)
            return f"{base} ({row['baseline']})" if base != "-" else f"- ({row['baseline']})"
        case "ratio":
            return _num(row.get("ratio"), 2) + ("x" if row.get("ratio") else "")
        case "µs/task":
            return _num(row.get("overhead_us"), 1)
        case "RSS B/task":
            return _num(row.get("rss_per_task"), 0)
        case "reps":
            return str(row.get("reps", "-"))
        case _:
            return _note(row)


def _note(row: Row) -> str:
    parts = []
    received = row.get("received")
    if received and received.get("ours"):
        got = received["ours"]["client"]
        parts.append(
            f"client received {_bytes(got)} of {_bytes(row['data_bytes'])} "
            f"({100 * got / row['data_bytes']:.3f}%)"
        )
    if row.get("note"):
        parts.append(row["note"])
    return "; ".join(parts)


def _num(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value}"


# ---- JSON ---------------------------------------------------------------------------------------
def save(
    path: str | Path, meta: dict[str, Any], rows: Sequence[Row], targets: Sequence[dict[str, Any]]
) -> None:
    Path(path).write_text(
        json.dumps({"meta": meta, "rows": list(rows), "targets": list(targets)}, indent=1) + "\n"
    )


def load(path: str | Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def format_compare(old: dict[str, Any], rows: Sequence[Row]) -> str:
    """Each row's median and ratio against the same row of an earlier run."""
    before = {_key(r): r for r in old.get("rows", [])}
    lines = [
        "| workload | N | runner | api | old s | new s | change | old ratio | new ratio | |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        prior = before.get(_key(row))
        if prior is None or not prior.get("ours_s") or not row.get("ours_s"):
            continue
        change = row["ours_s"] / prior["ours_s"] - 1
        flag = "SLOWER >10%" if change > 0.10 else ("faster >10%" if change < -0.10 else "")
        lines.append(
            f"| {row['workload']} | {row['n']} | {row['runner']} | {row['api']} | "
            f"{prior['ours_s']:.3f} | {row['ours_s']:.3f} | {change:+.1%} | "
            f"{_num(prior.get('ratio'), 2)} | {_num(row.get('ratio'), 2)} | {flag} |"
        )
    if len(lines) == 2:
        return f"(no rows in common with {old.get('meta', {}).get('command', 'the old run')})"
    return "\n".join(lines)


def _key(row: Row) -> tuple[Any, ...]:
    return (row["workload"], row["n"], row["runner"], row["api"])
