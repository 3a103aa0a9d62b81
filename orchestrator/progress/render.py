"""What progress looks like: rich renderables for terminals and plain text lines for logs.

Both forms show the same facts (see ``tally``): per task, runs finished out of
runs submitted and the count of runs in each state; at the end, a summary row
per task and the flow's final state. Plain lines are stable, one fact per line,
so they read well in CI logs and can be checked by tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from orchestrator.progress.sources import RunHeader
from orchestrator.progress.tally import SummaryRow, TaskProgress, format_duration
from taskrun.states import State

MAPPED_MARK = " (mapped)"


def header_line(header: RunHeader) -> str:
    """``Flow run 'neon-guan' of flow 'daily-revenue' on SequentialTaskRunner``."""
    return f"Flow run {header.flow_run_name!r} of flow {header.flow_name!r} on {header.task_runner}"


def final_line(flow_run_name: str, state: State, elapsed: float) -> str:
    """``Flow run 'neon-guan' finished in state Success(...) after 1.2s``."""
    return (
        f"Flow run {flow_run_name!r} finished in state {state!r} after {format_duration(elapsed)}"
    )


def interrupted_line(flow_run_name: str, elapsed: float) -> str:
    """``Flow run 'neon-guan' was interrupted (Ctrl-C) after 1.2s``."""
    return f"Flow run {flow_run_name!r} was interrupted (Ctrl-C) after {format_duration(elapsed)}"


# ---- plain text ------------------------------------------------------------------------------
def progress_line(row: TaskProgress, elapsed: float) -> str:
    """``[  1.2s] fetch_orders (mapped): 3/4 finished; Success 3, Running 1``."""
    mark = MAPPED_MARK if row.mapped else ""
    return (
        f"[{elapsed:6.1f}s] {row.label}{mark}: {row.finished}/{row.runs} finished; "
        f"{row.counts_text()}"
    )


SUMMARY_COLUMNS = ("Task", "State", "Runs", "Duration", "Message")


def summary_lines(rows: Sequence[SummaryRow]) -> list[str]:
    """The summary as an aligned text table (messages are never cut)."""
    cells = [SUMMARY_COLUMNS] + [
        (r.label, r.state, r.runs_text(), format_duration(r.duration), _one_line(r.message))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(SUMMARY_COLUMNS) - 1)]
    lines = []
    for row in cells:
        padded = [
            cell.rjust(w) if i in (2, 3) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    return lines


def _one_line(message: str) -> str:
    return " ".join(message.split())


# ---- rich (terminal) -------------------------------------------------------------------------
def live_view(header: RunHeader, rows: Sequence[TaskProgress], elapsed: float) -> RenderableType:
    """The live table: one row per task with a bar, its run counts and state counts."""
    title = Text.assemble((header_line(header), "bold"), f"  {format_duration(elapsed)}")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Task", no_wrap=True)
    table.add_column("Runs", justify="right", no_wrap=True)
    table.add_column("", width=24, no_wrap=True)
    table.add_column("States")
    for row in rows:
        label = Text(row.label)
        if row.mapped:
            label.append(MAPPED_MARK, style="dim")
        runs = "-" if row.runs is None else f"{row.finished}/{row.runs}"
        table.add_row(label, runs, _bar(row), _counts(row))
    parts: list[RenderableType] = [title]
    if header.dashboard_link:
        link = header.dashboard_link
        parts.append(Text.assemble("Dashboard: ", (link, f"link {link}")))
    parts.append(table)
    return Group(*parts)


def _bar(row: TaskProgress) -> ProgressBar:
    if row.runs is None:  # not submitted yet: empty
        return ProgressBar(total=1, completed=0, width=24)
    if row.runs == 0:  # an empty map is done
        return ProgressBar(total=1, completed=1, width=24)
    return ProgressBar(total=row.runs, completed=row.finished, width=24)


def _counts(row: TaskProgress) -> Text:
    if row.runs is None or not row.runs:
        return Text(row.counts_text(), style="dim")
    text = Text()
    for position, (name, count) in enumerate(row.counts.items()):
        if position:
            text.append(", ")
        text.append(name, style=f"bold {row.colors.get(name, '')}".strip())
        text.append(f" {count}")
    return text


def summary_table(rows: Sequence[SummaryRow]) -> Table:
    """The final summary: task, final state, runs, duration and message."""
    table = Table(title="Task runs", box=box.SIMPLE_HEAD, title_justify="left")
    for name in SUMMARY_COLUMNS:
        table.add_column(
            name,
            justify="right" if name in ("Runs", "Duration") else "left",
            no_wrap=name != "Message",
        )
    for row in rows:
        table.add_row(
            row.label,
            Text(row.state, style=f"bold {row.color}"),
            row.runs_text(),
            format_duration(row.duration),
            row.message,
        )
    return table


def final_text(flow_run_name: str, state: State, elapsed: float) -> Text:
    """The final line, coloured by the flow's state."""
    return Text(final_line(flow_run_name, state, elapsed), style=f"bold {state.color}")


def summary_view(
    header: RunHeader | None, rows: Sequence[SummaryRow], last: Text
) -> RenderableType:
    """What a notebook's progress output ends as: the run, the summary table, the last line."""
    parts: list[RenderableType] = []
    if header is not None:
        parts.append(Text(header_line(header), style="bold"))
    parts += [summary_table(rows), last]
    return Group(*parts)
