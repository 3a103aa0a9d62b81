"""Triggers: functions of upstream states that decide whether a task runs.

Called as Prefect 1 users call them, a built-in trigger returns ``True`` or raises the
signal that says why not: ``TRIGGERFAIL`` (the task fails), ``SKIP`` (``not_all_skipped``)
or ``PAUSE`` (``manual_only``, unless ``context.resume`` is set). It accepts any
collection of states: ``{edge: state}`` (what the executor passes), a list or a set; a
mapped parent counts as its children.

    >>> from taskrun.states import Success, Failed
    >>> all_successful([Success(), Success()])
    True
    >>> all_successful({"a": Success(), "b": Failed()})
    Traceback (most recent call last):
    ...
    taskrun.signals.TRIGGERFAIL: Trigger 'all_successful': Some upstream tasks did not ...

Each decision is a pure function of the states first (``BuiltinTrigger.verdict``: a
``TriggerResult`` with the reason naming the upstream tasks); the executor asks for it and
builds the state without raising anything (``evaluate_trigger``), and answers the default
``all_successful`` without a call when every upstream succeeded (``taskrun.execute``). It
only evaluates a trigger once every upstream state is finished. Custom triggers may return
``True``/``False`` or a ``TriggerResult``, or raise a signal.

Every trigger passes for an empty upstream set, except ``manual_only`` (which pauses unless
resumed) and the ``some_*`` triggers with a positive ``at_least`` count.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from taskrun import signals
from taskrun.context import current
from taskrun.states import State, StateKind

UpstreamStates = Mapping[Hashable, State]
#: what a trigger may be given: ``{edge: state}``, or a list or set of states
AnyStates = Mapping[Hashable, Any] | Collection[Any]
Trigger = Callable[[UpstreamStates], "TriggerResult | bool"]
Pairs = list[tuple[Hashable | None, State]]


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
    #: the signal a custom trigger raised, if it raised one (its state's result)
    signal: signals.Signal | None = field(default=None, compare=False, repr=False)

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


def _pairs(upstream_states: AnyStates) -> Pairs:
    """(edge, state) for each upstream state, from any collection a trigger accepts: a
    mapping's values may be states or lists of states (Prefect 1's mapped upstream); a
    collection's items have no edge (None)."""
    if isinstance(upstream_states, Mapping):
        if all(isinstance(value, State) for value in upstream_states.values()):
            return list(flatten_upstream(upstream_states))
        pairs: Pairs = []
        for edge, value in upstream_states.items():
            pairs.extend((edge, state) for _, state in _pairs([value]))
        return pairs
    pairs = []
    for item in upstream_states:
        if isinstance(item, State):
            children = item.map_states if item.is_mapped() else None
            pairs.extend((None, child) for child in children or [item])
        elif isinstance(item, list | tuple | set | frozenset):
            pairs.extend(_pairs(item))
        else:
            raise TypeError(
                f"A trigger was given {item!r} among the upstream states; pass a dict "
                "{edge: state}, or a list or set of states."
            )
    return pairs


def edge_label(edge: Hashable) -> str:
    """The upstream task's name, quoted, as messages show it (the edge itself if it has none)."""
    upstream = getattr(edge, "upstream_task", None)
    return repr(getattr(upstream, "name", upstream if upstream is not None else edge))


def _names(pairs: Pairs) -> str:
    """The upstream tasks of ``pairs``, sorted, first ten; states given without an edge
    are shown by class."""
    labels = sorted({edge_label(e) if e is not None else type(s).__name__ for e, s in pairs})
    shown = ", ".join(labels[:10])
    return shown + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")


def _count(
    upstream_states: AnyStates, predicate: Callable[[State], bool]
) -> tuple[int, int, Pairs]:
    pairs = _pairs(upstream_states)
    misses = [(edge, state) for edge, state in pairs if not predicate(state)]
    return len(pairs) - len(misses), len(pairs), misses


# ---- the decisions, as TriggerResults -----------------------------------------------------
def _all_successful(upstream_states: AnyStates) -> TriggerResult:
    _, _, misses = _count(upstream_states, State.is_successful)
    if misses:
        return TriggerResult(
            Decision.FAIL, f"Some upstream tasks did not succeed: {_names(misses)}."
        )
    return _RUN


def _all_failed(upstream_states: AnyStates) -> TriggerResult:
    _, _, misses = _count(upstream_states, State.is_failed)
    if misses:
        return TriggerResult(Decision.FAIL, f"Some upstream tasks did not fail: {_names(misses)}.")
    return _RUN


def _any_successful(upstream_states: AnyStates) -> TriggerResult:
    hits, total, _ = _count(upstream_states, State.is_successful)
    if total and not hits:
        return TriggerResult(Decision.FAIL, f"None of the {total} upstream tasks succeeded.")
    return _RUN


def _any_failed(upstream_states: AnyStates) -> TriggerResult:
    hits, total, _ = _count(upstream_states, State.is_failed)
    if total and not hits:
        return TriggerResult(Decision.FAIL, f"None of the {total} upstream tasks failed.")
    return _RUN


def _all_finished(upstream_states: AnyStates) -> TriggerResult:
    _, _, misses = _count(upstream_states, State.is_finished)
    if misses:
        return TriggerResult(
            Decision.FAIL, f"Some upstream tasks are unfinished: {_names(misses)}."
        )
    return _RUN


def _manual_only(upstream_states: AnyStates) -> TriggerResult:
    if current().get("resume"):
        return _RUN
    return TriggerResult(Decision.PAUSE, "Trigger was 'manual_only'; resume the task to run it.")


def _not_all_skipped(upstream_states: AnyStates) -> TriggerResult:
    verdict = _all_successful(upstream_states)
    if not verdict:
        return verdict
    pairs = _pairs(upstream_states)
    if pairs and all(state.is_skipped() for _, state in pairs):
        return TriggerResult(Decision.SKIP, "All upstream tasks were skipped.")
    return _RUN


# ---- the triggers -----------------------------------------------------------------------
#: the signal a built-in trigger raises for each decision but RUN
_RAISES: dict[Decision, type[signals.Signal]] = {
    Decision.FAIL: signals.TRIGGERFAIL,
    Decision.SKIP: signals.SKIP,
    Decision.PAUSE: signals.PAUSE,
}


class BuiltinTrigger:
    """A built-in trigger: ``trigger(states)`` is True or raises (Prefect 1's contract);
    ``verdict(states)`` is the same decision as a ``TriggerResult``, raising nothing."""

    def __init__(self, name: str, verdict: Callable[[AnyStates], TriggerResult], doc: str) -> None:
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc
        #: the decision, as a ``TriggerResult`` (what the executor asks)
        self.verdict = verdict

    def __call__(self, upstream_states: AnyStates) -> bool:
        verdict = self.verdict(upstream_states)
        if verdict.decision is Decision.RUN:
            return True
        reason = verdict.reason
        named = reason if reason.startswith("Trigger ") else f"Trigger {self.__name__!r}: {reason}"
        raise _RAISES[verdict.decision](named)

    def __repr__(self) -> str:
        return f"<trigger {self.__name__}>"

    def __reduce__(self) -> str | tuple[Any, ...]:
        return self.__name__  # pickled by reference: the module-level trigger of that name


all_successful = BuiltinTrigger(
    "all_successful", _all_successful, "Run when every upstream state is successful (default)."
)
all_failed = BuiltinTrigger("all_failed", _all_failed, "Run when every upstream state failed.")
any_successful = BuiltinTrigger(
    "any_successful", _any_successful, "Run when an upstream state succeeded (or none exist)."
)
any_failed = BuiltinTrigger(
    "any_failed", _any_failed, "Run when an upstream state failed (or none exist)."
)
all_finished = BuiltinTrigger(
    "all_finished", _all_finished, "Run once every upstream state is finished, whatever it is."
)
#: identical to ``all_finished``: triggers are only evaluated once upstream is finished
always_run = all_finished
manual_only = BuiltinTrigger(
    "manual_only",
    _manual_only,
    "Never run automatically: pause (raise PAUSE) unless the run resumes (context.resume).",
)
not_all_skipped = BuiltinTrigger(
    "not_all_skipped",
    _not_all_skipped,
    "Run when all upstream states succeeded and not all were skipped; skip if all were.",
)

ALL_TRIGGERS: tuple[BuiltinTrigger, ...] = (
    all_successful, all_failed, any_successful, any_failed, all_finished, always_run,
    manual_only, not_all_skipped,
)  # fmt: skip


# ---- the bounded triggers ---------------------------------------------------------------
_PREDICATES: dict[str, Callable[[State], bool]] = {
    "some_successful": State.is_successful,
    "some_failed": State.is_failed,
}


class BoundedTrigger(BuiltinTrigger):
    """``some_successful(...)``/``some_failed(...)``: passes when the count (an int bound)
    or the fraction (a float bound, 0.0 to 1.0) of upstream states meeting its predicate lies
    within [at_least, at_most]; checked each time it is called."""

    def __init__(self, label: str, at_least: float | None, at_most: float | None) -> None:
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
        self.label, self.at_least, self.at_most = label, at_least, at_most
        args = ", ".join(
            f"{k}={v!r}" for k, v in (("at_least", at_least), ("at_most", at_most)) if v is not None
        )
        super().__init__(f"{label}({args})", self._verdict, str(type(self).__doc__))

    def _verdict(self, upstream_states: AnyStates) -> TriggerResult:
        hits, total, _ = _count(upstream_states, _PREDICATES[self.label])
        at_least, at_most = self.at_least, self.at_most
        # floats are fractions of the upstream states (1.0 is all of them), ints are counts
        if at_least is not None and hits < _limit(at_least, total):
            return TriggerResult(
                Decision.FAIL, f"{hits} of {total} upstream: fewer than at_least={at_least}."
            )
        if at_most is not None and hits > _limit(at_most, total):
            return TriggerResult(
                Decision.FAIL, f"{hits} of {total} upstream: more than at_most={at_most}."
            )
        return _RUN

    def __reduce__(self) -> tuple[Any, ...]:
        return (BoundedTrigger, (self.label, self.at_least, self.at_most))


def _limit(bound: float, total: int) -> float:
    return bound * total if isinstance(bound, float) else bound


def some_successful(at_least: float | None = None, at_most: float | None = None) -> BoundedTrigger:
    """Run when the number (int) or fraction (float, 0.0 to 1.0) of successful upstream
    states is within ``[at_least, at_most]``; ``some_successful(at_least=1.0)`` needs all."""
    return BoundedTrigger("some_successful", at_least, at_most)


def some_failed(at_least: float | None = None, at_most: float | None = None) -> BoundedTrigger:
    """Run when the number (int) or fraction (float, 0.0 to 1.0) of failed upstream states
    is within ``[at_least, at_most]``; ``some_failed(at_most=0.5)`` allows half to fail."""
    return BoundedTrigger("some_failed", at_least, at_most)


# ---- the executor's side ----------------------------------------------------------------
_SIGNAL_DECISIONS: tuple[tuple[type[signals.Signal], Decision, str], ...] = (
    (signals.PAUSE, Decision.PAUSE, "paused the task"),
    (signals.SKIP, Decision.SKIP, "skipped the task"),
)


def evaluate_trigger(trigger: Callable[..., Any], upstream_states: UpstreamStates) -> TriggerResult:
    """A task's trigger's decision; never raises. A built-in one is asked for its verdict (no
    exception on the way); a custom one may return a bool or a ``TriggerResult`` or raise a
    signal (kept in the result, for the state it leads to)."""
    if isinstance(trigger, BuiltinTrigger):
        return trigger.verdict(upstream_states)
    name = getattr(trigger, "__name__", trigger)
    try:
        verdict = trigger(upstream_states)
    except signals.Signal as signal:
        for cls, decision, did in _SIGNAL_DECISIONS:
            if isinstance(signal, cls):
                return TriggerResult(decision, signal.message or f"Trigger {name!r} {did}.", signal)
        return TriggerResult(Decision.FAIL, signal.message or f"Trigger {name!r} failed.", signal)
    except Exception as err:
        return TriggerResult(
            Decision.FAIL,
            f"Trigger {name!r} raised {err!r}; a trigger should "
            "return True/False or a TriggerResult (or raise a signal).",
        )
    if isinstance(verdict, TriggerResult):
        return verdict
    if verdict:
        return _RUN
    return TriggerResult(Decision.FAIL, f"Trigger {name!r} returned False.")
