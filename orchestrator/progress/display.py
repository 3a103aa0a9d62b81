"""ProgressDisplay: shows a running flow's task runs on a console, live or as plain lines.

The display runs a daemon thread that polls a ``ProgressSource`` every
``interval`` seconds; the flow run itself never waits for it. On a terminal it
draws a live table (rich ``Live``, with log records routed above it); in a Jupyter
notebook it shows the same table as one output updated in place (``notebook``);
elsewhere it prints a line when a task's counts change (at most one per task every
``line_interval`` seconds, plus the line that shows it done). After the run, ``finish``
prints the summary table and the flow's final state; after Ctrl-C, ``interrupted``
prints the summary of what finished and what was cut short.

    with display.watch(source, header):     # thread: poll -> draw / print changes
        ... run the flow ...
    display.finish(final_state, summary_rows)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from orchestrator.progress import render
from orchestrator.progress.notebook import NotebookView, in_notebook
from orchestrator.progress.sources import ProgressSource, RunHeader
from orchestrator.progress.tally import SummaryRow, TaskProgress
from taskrun.states import State

logger = logging.getLogger("orchestrator.progress")


class ProgressDisplay:
    """Progress of one flow run at a time.

    Args:
        console: where to draw (default: standard output).
        live: draw a live table; default: when the console is a terminal.
        interval: seconds between polls of the task runs' states.
        line_interval: plain lines only: least seconds between two lines of one task while
            it runs, so a long map does not flood a log.
        notebook: show one notebook output updated in place; default: when the console
            writes to a Jupyter kernel (then ``live`` does not apply).
    """

    def __init__(
        self,
        console: Console | None = None,
        live: bool | None = None,
        interval: float = 0.2,
        line_interval: float = 2.0,
        notebook: bool | None = None,
    ) -> None:
        self.console = console or Console()
        self.notebook = in_notebook(self.console) if notebook is None else notebook
        self.live = False if self.notebook else (self.console.is_terminal if live is None else live)
        self.interval = interval
        self.line_interval = line_interval
        self.header: RunHeader | None = None
        self._started = time.monotonic()
        self._printed: dict[str, tuple[TaskProgress, float]] = {}
        self._source: ProgressSource | None = None
        #: the notebook output of the current run (notebook mode)
        self.view: NotebookView | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    @contextlib.contextmanager
    def watch(self, source: ProgressSource, header: RunHeader) -> Iterator[None]:
        """Show ``source``'s progress until the block ends (the run's task runner is started)."""
        self.header, self._started, self._printed = header, time.monotonic(), {}
        self._source = source
        self.view = NotebookView() if self.notebook else None
        if self.view is not None:
            self.view.show(render.live_view(header, [], 0.0))
        elif not self.live:
            self._print(render.header_line(header))
            if header.dashboard_link:
                self._print(f"Dashboard: {header.dashboard_link}")
        # Output to the terminal goes above the table; stderr only if it is that terminal too.
        live = (
            Live(
                console=self.console,
                auto_refresh=False,
                transient=True,
                redirect_stdout=True,
                redirect_stderr=_is_terminal(sys.stderr),
            )
            if self.live
            else None
        )
        with live if live is not None else contextlib.nullcontext(), _logs_through_live(live):
            stop = threading.Event()
            thread = threading.Thread(
                target=self._loop,
                args=(source, live, stop),
                name="orchestrator-progress",
                daemon=True,
            )
            thread.start()
            try:
                yield
            finally:
                stop.set()
                thread.join()
                self._show(source, live)  # the last word: every task's final counts

    def finish(self, state: State, rows: Sequence[SummaryRow]) -> None:
        """Print the summary table and the flow's final state."""
        name = self.header.flow_run_name if self.header else "?"
        last = render.final_text(name, state, self.elapsed)
        self._conclude(rows, last, render.final_line(name, state, self.elapsed))

    def interrupted(self) -> None:
        """After Ctrl-C: the summary of the states known so far (unfinished runs shown as
        Cancelled, interrupted) and a last line saying the run was interrupted."""
        if self._source is None:  # interrupted before the run was watched
            return
        name = self.header.flow_run_name if self.header else "?"
        line = render.interrupted_line(name, self.elapsed)
        try:
            rows = self._source.interrupted_summary()
        except Exception:  # boundary: a summary must not hide the interruption
            logger.debug("Progress display could not summarize the run", exc_info=True)
            rows = []
        self._conclude(rows, Text(line, style="bold yellow"), line)

    def _conclude(self, rows: Sequence[SummaryRow], last: Text, line: str) -> None:
        if self.view is not None:
            self.view.show(render.summary_view(self.header, rows, last))
            return
        if self.live:
            self.console.print(render.summary_table(rows))
            self.console.print(last)
            return
        for each in render.summary_lines(rows):
            self._print(each)
        self._print(line)

    # ---- the display thread ----------------------------------------------------------------
    def _loop(self, source: ProgressSource, live: Live | None, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self._show(source, live)

    def _show(self, source: ProgressSource, live: Live | None) -> None:
        try:
            rows = source.poll()
        except Exception:
            logger.debug("Progress display could not read task-run states", exc_info=True)
            return
        self._learn_dashboard(source, live is None and self.view is None)
        assert self.header is not None
        if self.view is not None:
            self.view.show(render.live_view(self.header, rows, self.elapsed))
            return
        if live is not None:
            live.update(render.live_view(self.header, rows, self.elapsed), refresh=True)
            return
        now = time.monotonic()
        for row in rows:
            if row.runs is None:
                continue
            last, when = self._printed.get(row.label, (None, -self.line_interval))
            if row != last and (row.is_done or now - when >= self.line_interval):
                self._printed[row.label] = (row, now)
                self._print(render.progress_line(row, self.elapsed))

    def _learn_dashboard(self, source: ProgressSource, plain: bool) -> None:
        """Take the dashboard link from a source whose task runner starts after the watch."""
        find = getattr(source, "dashboard_link", None)
        if self.header is None or self.header.dashboard_link or find is None:
            return
        link = find()
        if link:
            self.header = dataclasses.replace(self.header, dashboard_link=link)
            if plain:
                self._print(f"Dashboard: {link}")

    def _print(self, line: str) -> None:
        # Plain lines: no markup, highlighting or wrapping, so logs and tests see exactly this.
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _logs_through_live(live: Live | None) -> Iterator[None]:
    """Point console log handlers at the live display's proxies, so records print above it.

    ``logging.StreamHandler`` keeps the stream it was created with; without this,
    log records would write straight to the terminal and tear the live table.
    """
    if live is None:
        yield
        return
    swapped: list[tuple[logging.StreamHandler[Any], object]] = []
    targets = {id(sys.__stdout__): sys.stdout, id(sys.__stderr__): sys.stderr}
    for handler in _stream_handlers():
        target = targets.get(id(handler.stream))
        if target is not None and target is not handler.stream:  # only streams Live redirects
            swapped.append((handler, handler.setStream(target)))
    try:
        yield
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    loggers = [logging.getLogger()] + [
        value
        for value in list(logging.Logger.manager.loggerDict.values())
        if isinstance(value, logging.Logger)
    ]
    found: dict[int, logging.StreamHandler[Any]] = {}
    for each in loggers:
        for handler in each.handlers:
            if type(handler) is logging.StreamHandler:
                found[id(handler)] = handler
    return list(found.values())
