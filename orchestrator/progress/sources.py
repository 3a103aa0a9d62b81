"""Where a progress display reads task-run states from: the handles of a running flow.

A source is polled from the display's thread. It asks the task runner for the
current state of each handle with the non-blocking ``get_state`` and remembers
final states, so a map of ten thousand children costs only its unfinished
children per poll. Sources only read: the flow runner never waits for them. Each keeps
the states of its last poll, so a run interrupted by Ctrl-C can still be summarized
(``interrupted_summary``) after its task runner has shut down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.progress.tally import (
    SummaryRow,
    TaskProgress,
    interrupted_row,
    label_tasks,
    summarize,
    summarize_runs,
    tally,
)
from taskrun.states import State


@dataclass(frozen=True)
class RunHeader:
    """What the display says about the run as a whole."""

    flow_name: str
    flow_run_name: str
    task_runner: str
    #: the Dask dashboard, when the run is on Dask
    dashboard_link: str | None = None


class ProgressSource(Protocol):
    """Task progress rows of one run, in display order; called from the display thread."""

    def poll(self) -> list[TaskProgress]: ...

    def interrupted_summary(self) -> list[SummaryRow]:
        """Summary rows from the states of the last poll, unfinished runs as interrupted."""
        ...


class _StateCache:
    """Current states of handles; a finished state is kept and its handle not asked again."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self._final: dict[Any, list[State | None]] = {}

    def states(self, key: Any, handles: Sequence[Any]) -> list[State]:
        handles = list(handles)  # a snapshot: the flow runner may be appending children
        known = self._final.setdefault(key, [])
        known.extend([None] * (len(handles) - len(known)))  # a map's children appear over time
        current = []
        for position, handle in enumerate(handles):
            state = known[position]
            if state is None:
                state = self.runner.get_state(handle)
                if state.is_finished():
                    known[position] = state
            current.append(state)
        return current


class DagSource:
    """Progress of a DAG flow run, read from the flow runner's handles as they appear.

    ``handles`` is the flow runner's live ``{task: handle or [child handles]}``;
    a task without an entry is not submitted yet.
    """

    def __init__(self, flow: Any, runner: Any, handles: Mapping[Any, Any]) -> None:
        tasks = flow.sorted_tasks()
        self.labels = dict(zip(tasks, label_tasks([t.name for t in tasks]), strict=True))
        self.mapped = {t: any(e.mapped for e in flow.edges_to(t)) for t in tasks}
        self.handles = handles
        self._cache = _StateCache(runner)
        #: per submitted task, its runs' states at the last poll
        self.seen: dict[Any, list[State]] = {}

    def poll(self) -> list[TaskProgress]:
        rows = []
        for task, label in self.labels.items():
            handle = self.handles.get(task)
            if handle is None:
                rows.append(tally(label, self.mapped[task], None))
                continue
            children = isinstance(handle, list)
            states = self._cache.states(task, handle if children else [handle])
            self.seen[task] = states
            rows.append(tally(label, self.mapped[task] or children, states))
        return rows

    def interrupted_summary(self) -> list[SummaryRow]:
        return [
            interrupted_row(label, seen, mapped=seen is not None and self.mapped[task])
            for task, label in self.labels.items()
            for seen in [self.seen.get(task)]
        ]

    def summary(self, states: Mapping[Any, State]) -> list[SummaryRow]:
        """Summary rows from the run's final ``{task: state}``, in display order."""
        return [
            summarize(label, states[task]) for task, label in self.labels.items() if task in states
        ]


class FlowRunSource:
    """Progress of an ``@flow`` run, read from its futures as its function submits them.

    Runs are grouped by task in order of first submission; a task called in a loop
    or mapped counts all its runs together.
    """

    def __init__(self, flow_run: Any) -> None:
        self.flow_run = flow_run
        #: per task, its runs' (name, state) at the last poll, in order of first submission
        self.seen: dict[Any, list[tuple[str, State]]] = {}

    def groups(self) -> dict[Any, list[Any]]:
        grouped: dict[Any, list[Any]] = {}
        for future in self.flow_run.futures:
            grouped.setdefault(future.task, []).append(future)
        return grouped

    def poll(self) -> list[TaskProgress]:
        groups = self.groups()
        labels = label_tasks([t.name for t in groups])
        self.seen = {
            task: [(f.name, f.get_state()) for f in futures] for task, futures in groups.items()
        }
        return [
            tally(label, False, [state for _, state in self.seen[task]])
            for label, task in zip(labels, groups, strict=True)
        ]

    def interrupted_summary(self) -> list[SummaryRow]:
        labels = label_tasks([t.name for t in self.seen])
        return [
            interrupted_row(label, [s for _, s in runs], [n for n, _ in runs])
            for label, runs in zip(labels, self.seen.values(), strict=True)
        ]

    def summary(self) -> list[SummaryRow]:
        """Summary rows once the run is over (every future's final state)."""
        groups = self.groups()
        labels = label_tasks([t.name for t in groups])
        return [
            summarize_runs(label, [f.get_state() for f in futures], [f.name for f in futures])
            for label, futures in zip(labels, groups.values(), strict=True)
        ]

    def dashboard_link(self) -> str | None:
        """From the running task runner, or from a future's details (taken at submission)."""
        for future in self.flow_run.futures[:1]:
            link = getattr(future, "details", {}).get("dashboard")
            if isinstance(link, str) and link:
                return link
        return dashboard_link(self.flow_run.runner)


def dashboard_link(runner: Any) -> str | None:
    """The Dask dashboard of a task runner's cluster, if it has one."""
    try:
        link = getattr(runner, "dashboard_link", None)
        if link is None:
            link = getattr(getattr(runner, "client", None), "dashboard_link", None)
    except Exception:
        return None
    return link if isinstance(link, str) and link else None
