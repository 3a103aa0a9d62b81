"""The outcome of one pass through a DAG flow: the flow state it leaves, and what waits.

A pass submits every task once. A task can come out of it unfinished: ``Retrying`` (a
``FlowRunner.run`` single pass ends an attempt that will be retried there), or a
``Scheduled``/``Retrying`` state given in ``task_states`` whose ``start_time`` is still
ahead (not run in that pass). Then:

    FlowRunner.run (single pass)   the flow state is ``Running``, its result the states of
                                   ``return_tasks``; run another pass with those states
    flow.run                       waits until the earliest such start time, then runs
                                   another pass with the states so far, until none waits

``Paused`` tasks do not wait this way: a paused run returns ``Paused`` at once (Prefect 1
keeps the flow ``Running`` and its ``flow.run`` would wait out ``Paused``'s start time;
here a paused run is reported as such, to be resumed with ``Resume``).

``Flow(terminal_state_handler=fn)`` then sees the flow state decided from the reference
tasks: ``fn(flow, state, reference_task_states) -> State | None``; a returned state
replaces it (Prefect 1's hook, called once per pass, a ``Running`` one included).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from taskrun.states import Failed, Running, State

logger = logging.getLogger("orchestrator.FlowRunner")


def waiting_states(states: Iterable[State]) -> Iterator[State]:
    """The states (mapped children included) that wait for a start time: scheduled ones,
    ``Resume`` (a resumed task runs at once) and ``Paused`` (it waits to be resumed) aside."""
    for state in states:
        if state.is_scheduled() and not state.is_resume() and not state.is_paused():
            yield state
        if state.map_states:
            yield from waiting_states(state.map_states)


def is_not_due(state: State) -> bool:
    """A waiting state (see ``waiting_states``) whose start time is still ahead."""
    start = state.start_time
    if start is None or next(waiting_states([state]), None) is not state:
        return False
    return _utc(start) > _dt.datetime.now(_dt.UTC)


def is_incomplete(states: Mapping[Any, State], ends: Iterable[Any]) -> bool:
    """Some task of ``ends`` is not finished for a reason other than a pause: it waits for a
    retry or a start time, or runs (it was given ``Running``), or waits on one that does."""
    return any(t in states and _unfinished_not_paused(states[t]) for t in ends)


def _unfinished_not_paused(state: State) -> bool:
    if state.map_states:
        return any(_unfinished_not_paused(child) for child in state.map_states)
    return not state.is_finished() and not state.is_paused()


def earliest_start(states: Iterable[State]) -> _dt.datetime | None:
    """The earliest ``start_time`` among the waiting states (naive times are UTC)."""
    times = [_utc(s.start_time) for s in waiting_states(states) if s.start_time is not None]
    return min(times) if times else None


def wait_until(due: _dt.datetime, flow_name: str) -> None:
    """Sleep in this thread until ``due`` (``flow.run`` between passes)."""
    seconds = (due - _dt.datetime.now(_dt.UTC)).total_seconds()
    if seconds > 0:
        logger.info("Flow %r: waiting %.3g seconds for the next scheduled task run.", flow_name,
                    seconds)  # fmt: skip
        time.sleep(seconds)


def running_state(returned: Mapping[Any, State]) -> State:
    """The flow state of a single pass that left tasks to run."""
    return Running("Flow run RUNNING: terminal tasks are incomplete.", dict(returned))


def apply_terminal_state_handler(
    flow: Any, state: State, reference_states: Iterable[State]
) -> State:
    """``state`` as the flow's ``terminal_state_handler`` leaves it; never raises (a raising
    handler fails the flow run, the task states kept as its result)."""
    handler = getattr(flow, "terminal_state_handler", None)
    if handler is None:
        return state
    try:
        returned = handler(flow, state, set(reference_states))
    except Exception as err:  # boundary: user code
        name = getattr(handler, "__name__", handler)
        logger.error("Flow %r: terminal_state_handler %r raised %r", flow.name, name, err)
        return Failed(
            f"Flow {flow.name!r}: terminal_state_handler {name!r} raised {err!r}; the flow "
            "run is marked failed. Task states are kept as the result.",
            state.data,
        )
    if returned is None:
        return state
    if not isinstance(returned, State):
        return Failed(
            f"Flow {flow.name!r}: terminal_state_handler {getattr(handler, '__name__', handler)!r}"
            f" returned {returned!r}, not a State or None. Return the state the flow run "
            "should end in, or None to keep the one given.",
            state.data,
        )
    return returned


def _utc(moment: _dt.datetime) -> _dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_dt.UTC)
