"""Start times: whether a run from a scheduled state may start now, and when it resumes.

Only the scheduled family (``Scheduled``, ``Retrying``, ``Resume``, ``Paused``) carries a
``start_time``. The executor (``taskrun.execute``) returns a state whose start time is
still ahead as it is (Prefect 1's start-time check), except ``Resume``, which always runs.
A ``Paused`` state is due only once its start time has passed (ten years by default, so
it stays paused until resumed); it then runs as resumed, as does a ``Looped`` state (the
loop goes on). Naive datetimes are UTC.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from taskrun import signals
from taskrun.states import State

_UTC = _dt.UTC


def is_not_due(state: State) -> bool:
    """A scheduled state (not ``Resume``) whose start time is still ahead."""
    start = state.start_time
    if start is None or not state.is_scheduled() or state.is_resume():
        return False
    if start.tzinfo is None:  # naive datetimes are UTC
        start = start.replace(tzinfo=_UTC)
    return start > _dt.datetime.now(_UTC)


def resumes(initial: State) -> bool:
    """Whether a run from ``initial`` resumes (no trigger check): ``Resume``, a ``Paused``
    state whose start time has passed (``pause_task(duration=...)``), or ``Looped``."""
    if initial.is_resume() or initial.is_looped():
        return True
    return initial.is_paused() and not is_not_due(initial)


def requested_delay(state: State, delay: float) -> float:
    """Seconds before the next attempt after ``state``: a ``RETRY(start_time=...)``'s own
    (0 once it has passed), else ``delay`` (the task's policy, ``taskrun.retries``)."""
    signal = state.data if state.is_retrying() else None
    if isinstance(signal, signals.RETRY) and signal.start_time is not None:
        return max(0.0, (signal.start_time - _dt.datetime.now(_UTC)).total_seconds())
    return delay


def stamp_retrying(
    state: State, start_time: _dt.datetime, run_count: int, context: Mapping[str, Any] | None
) -> State:
    """A ``Retrying`` state (a ``RETRY``'s or a handler's) due at ``start_time`` after
    ``run_count`` attempts, unless its ``RETRY`` gave either; ``context`` added (a loop's
    position)."""
    signal = state.data if isinstance(state.data, signals.RETRY) else None
    fields: dict[str, Any] = {}
    if signal is None or signal.start_time is None:
        fields["start_time"] = start_time
    if (signal is None or signal.run_count is None) and state.run_count != run_count:
        fields["run_count"] = run_count
    if context is not None:
        fields["context"] = {**state.context, **context}
    return state.evolve(**fields) if fields else state
