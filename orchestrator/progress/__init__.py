"""Live progress of flow runs: ``flow.run(progress=True)`` and ``orchestrator run``.

    tally.py     pure: count task runs by state (mapped children together), summary rows
    sources.py   read task-run states from a running flow's handles (non-blocking)
    render.py    rich renderables for terminals, plain lines for everything else
    display.py   ProgressDisplay: the polling thread, live table or plain lines, summary
    notebook.py  NotebookView: one notebook output updated in place (Jupyter)

The DAG flow runner's only part is ``watch_dag_run``: it hands over its live
handle table and, at the end, the final states. An ``@flow`` function is watched
from outside with ``run_flow_function``: it runs in the background
(``flow.submit``) while the display reads the run's futures; ``watch_flow_run`` shows
a run already submitted, from a background thread (in a notebook, while other cells run).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from orchestrator.progress.display import ProgressDisplay
from orchestrator.progress.sources import (
    DagSource,
    FlowRunSource,
    ProgressSource,
    RunHeader,
    dashboard_link,
)
from orchestrator.progress.tally import INTERRUPTED, SummaryRow, TaskProgress, summarize, tally
from taskrun.states import State

__all__ = [
    "DagSource",
    "DagWatch",
    "FlowRunSource",
    "ProgressDisplay",
    "ProgressSource",
    "RunHeader",
    "SummaryRow",
    "TaskProgress",
    "as_display",
    "dashboard_link",
    "run_flow_function",
    "summarize",
    "tally",
    "watch_dag_run",
    "watch_flow_run",
]  # fmt: skip


def as_display(progress: bool | ProgressDisplay) -> ProgressDisplay:
    """The display a ``progress=`` argument asks for: ``True`` makes a default one."""
    if isinstance(progress, ProgressDisplay):
        return progress
    if progress is True:
        return ProgressDisplay()
    raise TypeError(f"progress must be True, False or a ProgressDisplay, got {progress!r}")


class DagWatch:
    """Handed to the flow runner while it watches: ``finish`` prints the summary."""

    def __init__(self, display: ProgressDisplay, source: DagSource) -> None:
        self.display, self.source = display, source

    def finish(self, state: State, states: Mapping[Any, State]) -> None:
        self.display.finish(state, self.source.summary(states))


@contextlib.contextmanager
def watch_dag_run(
    progress: bool | ProgressDisplay,
    flow: Any,
    runner: Any,
    handles: Mapping[Any, Any],
    flow_run_name: str,
) -> Iterator[DagWatch]:
    """Show a DAG flow run's progress while the block runs; the runner must be started."""
    display = as_display(progress)
    source = DagSource(flow, runner, handles)
    header = RunHeader(
        flow.name,
        flow_run_name,
        getattr(runner, "name", type(runner).__name__),
        dashboard_link(runner),
    )
    with display.watch(source, header):
        yield DagWatch(display, source)


def run_flow_function(
    flow_function: Any, parameters: Mapping[str, Any], progress: bool | ProgressDisplay = True
) -> State:
    """Run an ``@flow`` function with keyword ``parameters`` while showing its progress.

    The function runs in a background thread (``flow_function.submit``); this thread
    shows the display and waits, so Ctrl-C still interrupts it.
    """
    display = as_display(progress)
    return _watch_flow_run(flow_function.submit(**parameters), display)


def watch_flow_run(flow_run: Any, progress: bool | ProgressDisplay = True) -> threading.Thread:
    """Show the progress of a run started with ``flow.submit()``, without waiting for it.

    A background thread (returned; ``join()`` it to wait for the summary) shows the display
    until the run is over, then its summary; in a notebook that is one output, updated in
    place, while other cells run:

        run = squares.submit(100)
        watch_flow_run(run)          # returns at once
    """
    display = as_display(progress)
    thread = threading.Thread(
        target=_watch_flow_run,
        args=(flow_run, display),
        name=f"orchestrator-progress-{flow_run.name}",
        daemon=True,
    )
    thread.start()
    return thread


def _watch_flow_run(flow_run: Any, display: ProgressDisplay) -> State:
    source = FlowRunSource(flow_run)
    header = RunHeader(flow_run.flow_name, flow_run.name, flow_run.runner.name)
    with display.watch(source, header):
        state: State | None = None
        try:
            while state is None:  # short waits, so Ctrl-C reaches this thread
                state = flow_run.wait(timeout=0.1)
        except KeyboardInterrupt:  # the run stops too, and the journal says so (issue 14)
            flow_run.cancel("interrupted (Ctrl-C)", INTERRUPTED)
            flow_run.wait(timeout=5.0)
            raise
    display.finish(state, source.summary())
    return state
