"""``python -m benchmarks``: parse options, run the plan, print and save the results."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import plan as _plan
from benchmarks import report, scenarios
from benchmarks.forecast import Forecast
from benchmarks.harness import APIS, Side, baseline, measure, ours
from benchmarks.logs import quiet_logs
from benchmarks.memory import PeakGrowth
from benchmarks.runners import RunnerEnv, open_runner
from benchmarks.targets import ISSUE_15_TARGETS, check_targets, report_targets
from benchmarks.traffic import ReceivedBytes
from benchmarks.workloads import WORKLOADS

#: raw Dask is skipped above this size unless --baseline always (about 2 ms per task)
AUTO_BASELINE_MAX_N = 100_000


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure the orchestrator against raw Dask (and a plain loop) in one run.",
    )
    parser.add_argument("--quick", action="store_true", help="small plan, under 2 minutes")
    parser.add_argument(
        "--workload",
        type=_names,
        help="comma-separated: " + ", ".join([*WORKLOADS, *_plan.SCENARIOS]),
    )
    parser.add_argument("--n", type=_sizes, help="comma-separated sizes, overriding the plan's")
    parser.add_argument("--runner", type=_names, help="sequential, dask-threads, dask-procs")
    parser.add_argument("--api", type=_names, help="ours to run: " + ", ".join(APIS))
    parser.add_argument("--reps", type=int, default=3, help="repetitions per side (default 3)")
    parser.add_argument(
        "--time-cap",
        type=float,
        default=None,
        help="stop repeating a group past this many seconds (default 400, quick 30)",
    )
    parser.add_argument(
        "--max-run-seconds",
        type=float,
        default=120.0,
        help="skip a side whose next run is predicted (from smaller sizes) "
        "to take longer; 0: never skip (default 120)",
    )
    parser.add_argument("--seconds", type=float, default=0.5, help="sleep of a 'long' child")
    parser.add_argument(
        "--baseline",
        choices=("auto", "always", "never"),
        default="auto",
        help=f"auto skips raw Dask above N={AUTO_BASELINE_MAX_N:,}",
    )
    parser.add_argument("--json", dest="json_out", help="save the results to this JSON file")
    parser.add_argument("--compare", help="print the change against this earlier JSON")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="run nothing: print one table and the targets over these JSON files",
    )
    args = parser.parse_args(argv)
    _plan.check_names(args.workload, args.runner)
    for api in args.api or ():
        if api not in APIS:
            parser.error(f"unknown api {api!r}; choose from {', '.join(APIS)}")
    return args


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in _names(text)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.merge:
        return _merge(args.merge)
    # per-task-run INFO lines would dominate the timings; the variable reaches the worker
    # processes a cluster spawns later, the levels are put back when the run ends
    os.environ.setdefault("ORCHESTRATOR_LOG_LEVEL", "WARNING")
    with quiet_logs():
        return _measure(args, argv)


def _measure(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Run the planned workloads, print the table and the targets, save or compare."""
    groups = _plan.build_plan(args.quick, args.workload, args.n, args.runner, args.api)
    if any(g.workload == "locality" for g in groups):
        ReceivedBytes.install()
    time_cap = args.time_cap if args.time_cap is not None else (30.0 if args.quick else 400.0)
    started = time.monotonic()
    rows: list[report.Row] = []
    for runner in dict.fromkeys(g.runner for g in groups):
        rows += _run_runner(runner, [g for g in groups if g.runner == runner], args, time_cap)
    print(report.format_table(rows))
    results = check_targets(rows) + check_targets(rows, ISSUE_15_TARGETS)
    print("\n" + report_targets(rows))
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    if args.json_out:
        report.save(args.json_out, _meta(argv, time.monotonic() - started), rows, results)
    if args.compare:
        comparison = report.format_compare(report.load(args.compare), rows)
        print(f"\nAgainst {args.compare}\n{comparison}")
    return 0


def _merge(paths: Sequence[str]) -> int:
    """Print the rows of several result files as one table, with the targets over all."""
    rows: list[report.Row] = []
    for path in paths:
        data = report.load(path)
        rows += data["rows"]
        meta = data.get("meta", {})
        print(
            f"- `{meta.get('command')}` (commit {meta.get('commit')}, "
            f"{meta.get('seconds')} s, {meta.get('finished')})"
        )
    print("\n" + report.format_table(rows))
    print("\n" + report_targets(rows))
    return 0


def _run_runner(
    runner: str, groups: list[_plan.Group], args: argparse.Namespace, time_cap: float
) -> list[report.Row]:
    forecast = Forecast(args.max_run_seconds)
    if runner == "none":
        return [row for g in groups for row in _run_scenario(g, args.reps)]
    _progress(f"starting {runner}")
    env = open_runner(runner)
    try:
        return [row for g in groups for row in _run_group(g, env, args, time_cap, forecast)]
    finally:
        env.close()


def _run_group(
    group: _plan.Group,
    env: RunnerEnv,
    args: argparse.Namespace,
    time_cap: float,
    forecast: Forecast,
) -> list[report.Row]:
    workload = WORKLOADS[group.workload]
    contenders = [ours(workload, group.n, env, api, args.seconds) for api in group.apis]
    base = baseline(workload, group.n, env, args.seconds)
    skip = args.baseline == "never" or (
        args.baseline == "auto" and env.client is not None and group.n > AUTO_BASELINE_MAX_N
    )
    if skip:
        base = Side(
            base.api,
            None,
            f"raw Dask skipped above N={AUTO_BASELINE_MAX_N:,} (pass --baseline always)"
            if args.baseline == "auto"
            else "skipped",
        )
    for side in [*contenders, base]:
        reason = forecast.too_slow((group.workload, env.name, side.api), group.n)
        if side.run is not None and reason:
            side.run, side.problem = None, reason
    start = time.monotonic()
    reps = measure(
        [*contenders, base], env, args.reps, time_cap, count_bytes=group.workload == "locality"
    )
    for side in [*contenders, base]:
        forecast.record((group.workload, env.name, side.api), group.n, side.median())
    rows = report.make_rows(
        group.workload, group.n, env.name, workload.task_runs(group.n), reps, contenders, base
    )
    for row in rows:
        _progress(
            f"{row['workload']} N={row['n']:,} {row['runner']} {row['api']}: "
            f"ours {_s(row['ours_s'])} base {_s(row['base_s'])} "
            f"({time.monotonic() - start:.0f} s) {row['note']}"
        )
    return rows


def _run_scenario(group: _plan.Group, reps: int) -> list[report.Row]:
    if group.workload == "import":
        ours_side, base = scenarios.measure_imports(max(reps, 5))
        notes = [
            f"workers pulled in dask: {scenarios.last_import_report.get('dask')}, "
            f"orchestrator: {scenarios.last_import_report.get('orchestrator')}"
        ]
        rows = report.make_rows(
            "import", 0, "none", 1, max(reps, 5), [ours_side], base, notes, per_task=False
        )
    else:
        contenders, base = scenarios.build_sides(group.n)
        env = RunnerEnv("none")
        done = measure([*contenders, base], env, reps, 600.0, count_bytes=False)
        rows = report.make_rows("build", group.n, "none", group.n, done, contenders, base)
    for row in rows:
        _progress(
            f"{row['workload']} {row['api']}: ours {_s(row['ours_s'])} base {_s(row['base_s'])}"
        )
    return rows


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def _progress(text: str) -> None:
    print(f"[{_dt.datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def _meta(argv: Sequence[str] | None, seconds: float) -> dict[str, Any]:
    from importlib.metadata import version

    words = list(sys.argv[1:] if argv is None else argv)
    return {
        "command": "python -m benchmarks " + shlex.join(words),
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "commit": _git_commit(),
        "python": platform.python_version(),
        "dask": version("dask"),
        "distributed": version("distributed"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "rss_method": PeakGrowth.method(),
    }


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=os.path.dirname(__file__),
        )
    except OSError:
        return None
    return done.stdout.strip() or None
