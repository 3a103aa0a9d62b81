"""Looping tasks: a body that raises ``LOOP`` runs again, as Prefect 1's looping tasks do.

    iteration 1                  iteration 2                      iteration k
    Running -> Looped(1, r1) -> Running -> Looped(2, r2) -> ... -> Running -> Success

Each iteration is a run of the body with ``context.task_loop_count`` (1-based) and
``context.task_loop_result`` (the previous iteration's ``LOOP(result=...)``; not set in
the first iteration); every move goes through the state handlers. An iteration's failure
is retried as the task's retries allow, and the retry runs that same iteration again: the
``Retrying`` state carries the loop position in its context (``task_loop_count``,
``task_loop_result``). Retries are counted per iteration (Prefect 1 leaves this
unspecified): a long loop with ``max_retries=2`` may retry each iteration twice.

A ``Looped`` state given as a run's initial state resumes the loop after its iteration,
with the inputs it recorded (``cached_inputs``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from taskrun.states import Looped, State

#: the context keys a looping iteration sees (and a Retrying state keeps)
LOOP_COUNT, LOOP_RESULT = "task_loop_count", "task_loop_result"


class LoopPosition(NamedTuple):
    """Where a looping run stands: the iteration to run next and its input."""

    #: the iteration to run (1-based)
    iteration: int
    #: the previous iteration's result (``context.task_loop_result``)
    result: Any


def position_of(state: State) -> LoopPosition | None:
    """The loop position a run resumes at from ``state``: after a ``Looped`` state, or the
    iteration a ``Retrying`` state retries; None when the run is not looping."""
    if isinstance(state, Looped):
        return LoopPosition(state.loop_count + 1, state.read_result(False))
    context = state.context
    if LOOP_COUNT in context:
        return LoopPosition(int(context[LOOP_COUNT]), context.get(LOOP_RESULT))
    return None


def iteration_keys(position: LoopPosition) -> dict[str, Any]:
    """The context keys of the iteration at ``position``."""
    return {LOOP_COUNT: position.iteration, LOOP_RESULT: position.result}
