"""``orchestrator runs``: the history of flow runs, from the run journal.

    orchestrator runs                  latest runs: id, flow, state, start, duration,
                                       task-run counts by state (an empty table if none)
    orchestrator runs show RUN_ID      one run, task by task: state, runs, duration,
                                       message, result location; mapped children summed up
    --json                             the same as JSON, for scripts

RUN_ID is a flow run's id (or any unique start of it), its name, or ``last``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from orchestrator.journal import FlowRunRecord, SQLiteJournal, TaskRunRecord

#: how many of a mapped task's locations and messages ``runs show`` names
_SHOWN = 3


def runs_command(args: argparse.Namespace) -> int:
    """``orchestrator runs`` and ``orchestrator runs show RUN_ID``; returns the exit status."""
    journal = SQLiteJournal()
    try:
        if getattr(args, "runs_command", None) == "show":
            run = journal.find_run(args.run_id)
            tasks = summarise_tasks(journal.task_runs(run.id))
            if args.json:
                print(json.dumps({**run_dict(run), "tasks": tasks}, indent=2))
            else:
                _print_run(run, tasks)
            return 0
        runs = journal.latest_runs(args.limit)
        if args.json:
            print(json.dumps([run_dict(run) for run in runs], indent=2))
        else:
            _print_runs(runs, journal.location)
        return 0
    finally:
        journal.close()


def run_dict(run: FlowRunRecord) -> dict[str, Any]:
    """A flow run as JSON-ready values (times as ISO 8601, UTC)."""
    return {
        "id": run.id,
        "flow": run.flow_name,
        "name": run.run_name,
        "state": run.state.kind,
        "message": run.state.message,
        "start": _iso(run.started),
        "end": _iso(run.ended),
        "duration": _duration_seconds(run),
        "task_runs": dict(sorted(run.counts.items())),
        "parameters": run.parameters,
        "runner": run.runner,
        "attempt": run.attempt,
        "source": run.source,
    }


def summarise_tasks(records: Sequence[TaskRunRecord]) -> list[dict[str, Any]]:
    """One entry per task, in the order its first run was recorded: a task run as it is,
    a mapped task's children summed up (states counted, durations added)."""
    by_task: dict[str, list[TaskRunRecord]] = {}
    for record in records:
        by_task.setdefault(record.task_name, []).append(record)
    return [_task_entry(name, runs) for name, runs in by_task.items()]


def _task_entry(name: str, runs: list[TaskRunRecord]) -> dict[str, Any]:
    durations = [r.state.duration for r in runs if r.state.duration is not None]
    counts = Counter(r.state.kind for r in runs)
    mapped = any(r.map_index is not None for r in runs)
    locations = [r.state.result_location for r in runs if r.state.result_location]
    if not mapped and len(runs) == 1:
        shown = runs[0].state
        state = shown.kind
    else:
        state = ", ".join(f"{kind} {n}" for kind, n in counts.most_common())
        unwell = [r for r in runs if r.state.kind not in ("Success", "Cached")]
        shown = (unwell[0] if unwell else runs[-1]).state
    message = " ".join(part for part in (shown.message, shown.error) if part) or None
    return {
        "task": name,
        "state": state,
        "runs": len(runs),
        "mapped": mapped,
        "states": dict(counts),
        "attempts": sum(r.state.run_count for r in runs),
        "duration": round(sum(durations), 6) if durations else None,
        "message": message,
        "result_locations": locations[:_SHOWN],
        "result_locations_more": max(0, len(locations) - _SHOWN),
    }


def _print_runs(runs: Sequence[FlowRunRecord], location: str) -> None:
    table = Table(title=f"Flow runs ({location})", title_justify="left")
    for column in ("ID", "Flow", "State", "Start", "Duration", "Task runs"):
        table.add_column(column, overflow="fold")
    for run in runs:
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(run.counts.items()))
        table.add_row(
            run.id,
            run.flow_name,
            run.state.kind,
            _local(run.started),
            _shown_duration(_duration_seconds(run)),
            counts or "-",
        )
    _console().print(table)
    if not runs:
        print("No flow runs recorded yet.")


def _print_run(run: FlowRunRecord, tasks: list[dict[str, Any]]) -> None:
    console = _console()
    console.print(f"Flow run {run.id} ({run.run_name!r}) of flow {run.flow_name!r}")
    console.print(f"  state: {run.state.kind}: {run.state.message or ''}", markup=False)
    ended = _local(run.ended) if run.ended is not None else "still running (or died)"
    console.print(f"  start: {_local(run.started)}   end: {ended}", markup=False)
    if run.attempt > 1:
        console.print(f"  attempt: {run.attempt} (resumed)", markup=False)
    if run.parameters:
        console.print(f"  parameters: {json.dumps(run.parameters)}", markup=False)
    table = Table(title_justify="left")
    for column in ("Task", "State", "Runs", "Duration", "Message", "Result location"):
        table.add_column(column, overflow="fold")
    for entry in tasks:
        more = entry["result_locations_more"]
        where = ", ".join(entry["result_locations"]) + (f" and {more} more" if more else "")
        table.add_row(
            entry["task"],
            entry["state"],
            str(entry["runs"]),
            _shown_duration(entry["duration"]),
            entry["message"] or "",
            where,
        )
    console.print(table)


def _console() -> Console:
    return Console(width=200, soft_wrap=False, highlight=False)


def _duration_seconds(run: FlowRunRecord) -> float | None:
    return None if run.ended is None else round(run.ended - run.started, 3)


def _shown_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(int(seconds), 60)
    return (
        f"{minutes // 60}h{minutes % 60:02d}m{rest:02d}s"
        if minutes >= 60
        else f"{minutes}m{rest:02d}s"
    )


def _local(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat()
