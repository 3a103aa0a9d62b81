"""Counting task runs by state for progress displays: pure functions over states, no I/O.

A progress display shows one row per task. A mapped task's children are counted
together, so a row reads "3/4 finished: Success 3, Running 1" whatever the size
of the map. ``tally`` builds that row from the states seen so far; ``summarize``
builds a row of the final summary table from a task's final state, and
``interrupted_row`` one from the states seen when the run was interrupted (Ctrl-C).
A row counts attempts too (each final state's ``run_count``), so retries show:
``Runs 1 (3 attempts)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from taskrun.states import Cancelled, DeferredResult, State

#: the message of a run cut short by Ctrl-C
INTERRUPTED = "Interrupted (Ctrl-C) before it finished."


@dataclass(frozen=True)
class TaskProgress:
    """One task's progress at one moment."""

    #: the task's name (with ``#2`` and so on when a flow has several tasks of that name)
    label: str
    #: the task maps over an upstream result (its runs are children)
    mapped: bool
    #: task runs submitted so far; None while the task is not submitted yet
    runs: int | None
    #: runs that reached a final state
    finished: int = 0
    #: runs per state name: successful, skipped, failed, cancelled, running, retrying, paused,
    #: pending
    counts: dict[str, int] = field(default_factory=dict)
    #: display colour per state name (the state class's ``color``)
    colors: dict[str, str] = field(default_factory=dict)

    @property
    def is_done(self) -> bool:
        """Submitted and every run finished."""
        return self.runs is not None and self.finished == self.runs

    def counts_text(self) -> str:
        """``Success 3, Running 1``; ``waiting`` before submission, ``no runs`` for an empty map."""
        if self.runs is None:
            return "waiting"
        if not self.runs:
            return "no runs"
        return ", ".join(f"{name} {count}" for name, count in self.counts.items())


def tally(label: str, mapped: bool, states: Sequence[State] | None) -> TaskProgress:
    """The progress row for a task whose runs currently have ``states`` (None: not submitted)."""
    if states is None:
        return TaskProgress(label, mapped, None)
    counts: dict[str, int] = {}
    colors: dict[str, str] = {}
    ranks: dict[str, int] = {}
    for state in states:
        counts[state.name] = counts.get(state.name, 0) + 1
        colors.setdefault(state.name, state.color)
        ranks.setdefault(state.name, _rank(state))
    counts = {name: counts[name] for name in sorted(counts, key=lambda n: (ranks[n], n))}
    finished = sum(1 for s in states if is_settled(s))
    return TaskProgress(label, mapped, len(states), finished, counts, colors)


def _rank(state: State) -> int:
    """Where a state's count goes in a row: done first, then what is still moving."""
    checks = (
        lambda: state.is_successful() and not state.is_skipped(),
        state.is_skipped,
        state.is_failed,
        state.is_cancelled,
        state.is_running,
        state.is_retrying,
        state.is_paused,
    )
    return next((rank for rank, check in enumerate(checks) if check()), len(checks))


def is_settled(state: State) -> bool:
    """Whether a run's state will not change in this flow run (finished, paused or NotReady)."""
    return state.is_finished() or state.is_paused() or state.name == "NotReady"


@dataclass(frozen=True)
class SummaryRow:
    """One task's line in the final summary table."""

    label: str
    #: final state name; a mapped task adds its children's counts: ``Mapped (Success 4)``
    state: str
    #: colour of the final state
    color: str
    #: task runs (children for a mapped task)
    runs: int
    #: seconds the body took, summed over children; None when the body never ran
    duration: float | None
    message: str
    #: attempts made (calls of the body), summed over the runs
    attempts: int = 0
    #: runs that took more than one attempt (were retried)
    retried: int = 0

    def runs_text(self) -> str:
        """``4``, or ``4 (7 attempts)`` when some run was retried."""
        if not self.retried:
            return str(self.runs)
        return f"{self.runs} ({self.attempts} attempts)"


def _with_attempts(row: SummaryRow, states: Sequence[State]) -> SummaryRow:
    """``row`` with the attempts its runs' final ``states`` made."""
    attempts = sum(s.run_count for s in states)
    return replace(row, attempts=attempts, retried=sum(1 for s in states if s.run_count > 1))


def summarize(label: str, state: State) -> SummaryRow:
    """The summary row for a task's final ``state`` (children aggregated for a mapped task)."""
    children = state.map_states
    if not state.is_mapped() or not children:
        runs = 0 if state.is_mapped() else 1
        row = SummaryRow(label, state.name, state.color, runs, state.duration, explain(state))
        return row if state.is_mapped() else _with_attempts(row, [state])
    progress = tally(label, True, children)
    durations = [c.duration for c in children if c.duration is not None]
    failed = [(i, c) for i, c in enumerate(children) if c.is_failed()]
    message = state.message or ""
    if failed:
        index, first = failed[0]
        message = (
            f"{len(failed)} of {len(children)} children failed; child {index}: {explain(first)}"
        )
    row = SummaryRow(
        label,
        f"{state.name} ({progress.counts_text()})",
        state.color,
        len(children),
        sum(durations) if durations else None,
        message,
    )
    return _with_attempts(row, children)


def summarize_runs(label: str, states: Sequence[State], names: Sequence[str] = ()) -> SummaryRow:
    """The summary row for several runs of one task (an ``@flow`` calling it in a loop or map).

    ``names`` are the task-run names, used to say which run failed.
    """
    if len(states) == 1:
        return summarize(label, states[0])
    progress = tally(label, True, states)
    failed = [(i, s) for i, s in enumerate(states) if s.is_failed()]
    worst = (
        failed[0][1]
        if failed
        else next((s for s in states if not s.is_successful()), states[0] if states else None)
    )
    durations = [s.duration for s in states if s.duration is not None]
    message = ""
    if failed:
        index, first = failed[0]
        which = repr(names[index]) if index < len(names) else str(index)
        message = f"{len(failed)} of {len(states)} runs failed; run {which}: {explain(first)}"
    row = SummaryRow(
        label,
        progress.counts_text(),
        worst.color if worst else "",
        len(states),
        sum(durations) if durations else None,
        message,
    )
    return _with_attempts(row, states)


def interrupted_row(
    label: str,
    states: Sequence[State] | None,
    names: Sequence[str] = (),
    mapped: bool = False,
) -> SummaryRow:
    """The summary row of a task when its flow run was interrupted: the states seen so far,
    each unfinished run shown as Cancelled ("interrupted"); ``None``: never submitted.

    ``mapped``: the states are a mapped task's children (shown ``Mapped (Success 2, ...)``).
    """
    if states is None:
        cancelled = Cancelled(INTERRUPTED)
        return SummaryRow(label, cancelled.name, cancelled.color, 0, None, INTERRUPTED)
    cut = sum(1 for s in states if not is_settled(s))
    shown = [s if is_settled(s) else Cancelled(INTERRUPTED) for s in states]
    row = summarize_runs(label, shown, names)
    if mapped:
        row = replace(row, state=f"Mapped ({tally(label, True, shown).counts_text()})")
    if cut and (mapped or len(states) > 1) and not row.message:
        row = replace(row, message=f"Interrupted (Ctrl-C): {cut} of {len(states)} runs unfinished.")
    return row


def explain(state: State) -> str:
    """A state's message, with the exception of a failed run (``... ValueError: bad row``)."""
    message = state.message or ""
    if not state.is_failed():
        return message
    error = state._result  # as stored: an error still pickled (on Dask) is not loaded
    if isinstance(error, DeferredResult):
        kind, text = error.type_name, error.text or ""
    elif isinstance(error, BaseException):
        kind, text = type(error).__name__, str(error)
    else:
        return message
    detail = f"{kind}: {text}" if text else kind
    if text not in message:
        message = f"{message} {detail}".strip()
    return message


def label_tasks(names: Sequence[str]) -> list[str]:
    """Unique labels for tasks in order: a repeated name gets ``#2``, ``#3``...

    >>> label_tasks(["load", "clean", "load"])
    ['load', 'clean', 'load#2']
    """
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def format_duration(seconds: float | None) -> str:
    """``0.12s``, ``3.4s``, ``2m05s``; ``-`` when unknown.

    >>> [format_duration(s) for s in (None, 0.123, 3.42, 125.0)]
    ['-', '0.12s', '3.4s', '2m05s']
    """
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"
