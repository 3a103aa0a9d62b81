"""Triggers: pure functions from upstream states to a decision about running a task.

A trigger sees ``{edge: state}`` for each upstream edge, with mapped upstream
parents already flattened into their children (``flatten_upstream``), and returns a
``TriggerResult``. Not running is a return value, never an exception. The executor
only evaluates a trigger once every upstream state is finished.

    >>> from taskrun.states import Success, Failed
    >>> all_successful({"a": Success(), "b": Failed()}).decision
    <Decision.FAIL: 'fail'>

Every trigger passes for an empty upstream set, except ``manual_only`` (which
always pauses) and the ``some_*`` triggers with a positive ``at_least`` count.
Custom triggers may also return ``True``/``False`` or raise a signal.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from taskrun import signals
from taskrun.states import State, StateKind

UpstreamStates = Mapping[Hashable, State]
Trigger = Callable[[UpstreamStates], "TriggerResult | bool"]


class Decision(enum.Enum):
    RUN = "run"
    FAIL = "fail"
    SKIP = "skip"
    PAUSE = "pause"


@dataclass(frozen=True)
class TriggerResult:
    """A trigger's answer and the reason, for the task's state message."""

    #: what the task should do
    decision: Decision
    #: one sentence naming the upstream tasks that decided it
    reason: str = ""

    def __bool__(self) -> bool:
        return self.decision is Decision.RUN


#: the passing verdict, shared: results are frozen, and triggers pass on nearly every run
_RUN = TriggerResult(Decision.RUN)


def flatten_upstream(upstream_states: UpstreamStates) -> list[tuple[Hashable, State]]:
    """Each (edge, state), with a mapped parent replaced by its children's states.

    An edge that gathers several upstream runs into one (``members``: one label per run,
    as ``@flow`` passes a list of futures) pairs each child with its own label, so
    messages name the runs themselves.
    """
    pairs: list[tuple[Hashable, State]] = []
    for edge, state in upstream_states.items():
        if state.is_mapped() and state.map_states:
            members = getattr(edge, "members", None)
            if members is not None and len(members) == len(state.map_states):
                pairs.extend(zip(members, state.map_states, strict=True))
            else:
                pairs.extend((edge, child) for child in state.map_states)
        else:
            pairs.append((edge, state))
    return pairs


def flattens_upstream(trigger: Any) -> bool:
    """Whether ``trigger`` is one of ours: it sees upstream runs only through
    ``flatten_upstream`` (so a gathering edge is the same to it as one edge per run)."""
    return getattr(trigger, "__module__", None) == __name__


def upstream_kinds(upstream_states: UpstreamStates) -> set[StateKind]:
    """The kinds among the states ``flatten_upstream`` yields, without building the pairs:
    the executor's readiness checks ask only which kinds occur."""
    kinds: set[StateKind] = set()
    for state in upstream_states.values():
        if state.is_mapped() and state.map_states:
            kinds.update([child.kind for child in state.map_states])
        else:
            kinds.add(state.kind)
    return kinds


def _names(pairs: list[tuple[Hashable, State]]) -> str:
    labels = sorted({edge_label(edge) for edge, _ in pairs})
    shown = ", ".join(labels[:10])
    return shown + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")


def edge_label(edge: Hashable) -> str:
    """The upstream task's name, quoted, as messages show it (the edge itself if it has none)."""
    upstream = getattr(edge, "upstream_task", None)
    return repr(getattr(upstream, "name", upstream if upstream is not None else edge))


def _count(
    upstream_states: UpstreamStates, predicate: Callable[[State], bool]
) -> tuple[int, int, list[tuple[Hashable, State]]]:
    pairs = flatten_upstream(upstream_states)
    misses = [(edge, state) for edge, state in pairs if not predicate(state)]
    return len(pairs) - len(misses), len(pairs), misses


def all_successful(upstream_states: UpstreamStates) -> TriggerResult:
    """Run when every upstream state is successful (the default)."""
    _, _, misses = _count(upstream_states, State.is_successful)
    if misses:
        return TriggerResult(
            Decision.FAIL, f"Some upstream tasks did not succeed: {_names(misses)}."
        )
    return _RUN


def all_failed(upstream_states: UpstreamStates) -> TriggerResult:
    """Run when every upstream state failed."""
    _, _, misses = _count(upstream_states, State.is_failed)
    if misses:
        return TriggerResult(Decision.FAIL, f"Some upstream tasks did not fail: {_names(misses)}.")
    return _RUN


def any_successful(upstream_states: UpstreamStates) -> TriggerResult:
    """Run when at least one upstream state succeeded (or there is no upstream)."""
    hits, total, _ = _count(upstream_states, State.is_successful)
    if total and not hits:
        return TriggerResult(Decision.FAIL, "No upstream task succeeded.")
    return _RUN


def any_failed(upstream_states: UpstreamStates) -> TriggerResult:
    """Run when at least one upstream state failed (or there is no upstream)."""
    hits, total, _ = _count(upstream_states, State.is_failed)
    if total and not hits:
        return TriggerResult(Decision.FAIL, "No upstream task failed.")
    return _RUN


def all_finished(upstream_states: UpstreamStates) -> TriggerResult:
    """Run once every upstream state is finished, whatever the outcome."""
    _, _, misses = _count(upstream_states, State.is_finished)
    if misses:
        return TriggerResult(
            Decision.FAIL, f"Some upstream tasks are unfinished: {_names(misses)}."
        )
    return _RUN


#: identical to ``all_finished``: triggers are only evaluated once upstream is finished
always_run = all_finished


def manual_only(upstream_states: UpstreamStates) -> TriggerResult:
    """Never run automatically: pause until resumed."""
    return TriggerResult(Decision.PAUSE, "Trigger was 'manual_only'; resume the task to run it.")


def not_all_skipped(upstream_states: UpstreamStates) -> TriggerResult:
    """Run when all upstream states succeeded and not all were skipped; skip if all were."""
    verdict = all_successful(upstream_states)
    if not verdict:
        return verdict
    pairs = flatten_upstream(upstream_states)
    if pairs and all(state.is_skipped() for _, state in pairs):
        return TriggerResult(Decision.SKIP, "All upstream tasks were skipped.")
    return _RUN


def _bounded(
    label: str,
    predicate: Callable[[State], bool],
    at_least: int | float | None,
    at_most: int | float | None,
) -> Trigger:
    """A trigger passing when the count (an int bound) or the fraction (a float bound, from
    0.0 to 1.0) of upstream states meeting ``predicate`` lies within [at_least, at_most]."""
    for bound_name, bound in (("at_least", at_least), ("at_most", at_most)):
        if bound is None:
            continue
        is_count = isinstance(bound, int) and not isinstance(bound, bool) and bound >= 0
        is_fraction = isinstance(bound, float) and 0.0 <= bound <= 1.0
        if not (is_count or is_fraction):
            raise ValueError(
                f"{label}({bound_name}={bound!r}): expected a count (an int >= 0) "
                f"or a fraction (a float from 0.0 to 1.0), e.g. {bound_name}=0.5"
            )

    def _limit(bound: int | float, total: int) -> float:
        # floats are fractions of the upstream states (1.0 is all of them), ints are counts
        return bound * total if isinstance(bound, float) else bound

    def trigger(upstream_states: UpstreamStates) -> TriggerResult:
        hits, total, _ = _count(upstream_states, predicate)
        if at_least is not None and hits < _limit(at_least, total):
            return TriggerResult(
                Decision.FAIL, f"{hits} of {total} upstream: fewer than at_least={at_least}."
            )
        if at_most is not None and hits > _limit(at_most, total):
            return TriggerResult(
                Decision.FAIL, f"{hits} of {total} upstream: more than at_most={at_most}."
            )
        return _RUN

    args = ", ".join(
        f"{k}={v!r}" for k, v in (("at_least", at_least), ("at_most", at_most)) if v is not None
    )
    trigger.__name__ = trigger.__qualname__ = f"{label}({args})"
    return trigger


def some_successful(
    at_least: int | float | None = None, at_most: int | float | None = None
) -> Trigger:
    """Run when the number (int) or fraction (float, 0.0 to 1.0) of successful upstream
    states is within ``[at_least, at_most]``; ``some_successful(at_least=1.0)`` needs all."""
    return _bounded("some_successful", State.is_successful, at_least, at_most)


def some_failed(at_least: int | float | None = None, at_most: int | float | None = None) -> Trigger:
    """Run when the number (int) or fraction (float, 0.0 to 1.0) of failed upstream states
    is within ``[at_least, at_most]``; ``some_failed(at_most=0.5)`` allows half to fail."""
    return _bounded("some_failed", State.is_failed, at_least, at_most)


ALL_TRIGGERS: tuple[Trigger, ...] = (
    all_successful, all_failed, any_successful, any_failed, all_finished, always_run,
    manual_only, not_all_skipped,
)  # fmt: skip


def evaluate_trigger(
    trigger: Callable[..., Any], upstream_states: Mapping[Hashable, State]
) -> TriggerResult:
    """Call a task's trigger; accept bools and raised signals from custom triggers."""
    try:
        verdict = trigger(upstream_states)
    except signals.PAUSE as signal:
        return TriggerResult(Decision.PAUSE, signal.message or "Trigger paused the task.")
    except signals.SKIP as signal:
        return TriggerResult(Decision.SKIP, signal.message or "Trigger skipped the task.")
    except signals.Signal as signal:
        return TriggerResult(
            Decision.FAIL, signal.message or f"Trigger {trigger.__name__!r} failed."
        )
    except Exception as err:
        name = getattr(trigger, "__name__", trigger)
        return TriggerResult(
            Decision.FAIL,
            f"Trigger {name!r} raised {err!r}; a trigger should "
            "return True/False or a TriggerResult (or raise a signal).",
        )
    if isinstance(verdict, TriggerResult):
        return verdict
    if verdict:
        return TriggerResult(Decision.RUN)
    return TriggerResult(
        Decision.FAIL, f"Trigger {getattr(trigger, '__name__', trigger)!r} returned False."
    )
