"""Settling Dask tasks that erred: resubmit, split, or fail -- so no error spreads blindly.

Dask marks every dependent of an erred Dask task erred too. For a flow that is wrong:
a downstream task run must see its upstream's *state* and let its trigger decide
(``TriggerFailed``, or run anyway under ``all_finished``). So when a Dask task erred:

    the scheduler is lost             -> every unfinished task run of the session fails,
                                         naming the scheduler (nothing can run any more)
    an upstream Dask task erred (a     -> settle that upstream first, then resubmit this
    KilledWorker naming another key,      one with the upstream's final state as argument
    or a source that erred)
    its own workers died (KilledWorker -> ask the ``DeathLedger`` who crashed them:
    naming it)                            a bystander is resubmitted; a batch that crashed
                                          them is split (one Dask task per child, so only
                                          the child that kills its worker fails); a task
                                          run that crashed them fails saying how
    otherwise                          -> Failed (or Cancelled) states saying why

No resubmission loops: a Dask task is resubmitted at most once per cause (an upstream's
key, a set of worker deaths), and at most ``MAX_RESUBMITS`` times in all; past that its
task runs fail naming every cause (``ResubmitLimitError``). A released upstream (its
future dropped once every consumer was submitted) is not an erred one; if its result
stayed on a worker, a resubmission computes it again (``lost_upstream``), or its task
runs fail saying it was lost (``UpstreamLostError``).

Runs under the session's settle lock, in a caller's thread; ``fail_unfinished`` also
runs on the client's event loop (it takes only the session's condition).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.task_runners.dask import lost_upstream
from orchestrator.task_runners.dask.deaths import Role, Verdict
from orchestrator.task_runners.dask.faults import (
    ResubmitLimitError,
    blamed_key,
    error_state,
    failure_state,
    is_scheduler_lost,
)
from orchestrator.task_runners.dask.handles import DaskHandle, Submitted
from orchestrator.task_runners.dask.lost_upstream import UpstreamLostError, rewired
from taskrun.dask.shipping import rekeyed
from taskrun.states import State

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.session import DaskSession

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: Dask future statuses that end a Dask task ("lost" does not: Dask computes a lost
#: result again while a client holds its future)
_FAILED_STATUSES = ("error", "cancelled")
#: resubmissions of the Dask task of a task run, in all, before it fails saying why
MAX_RESUBMITS = 4


def settle(
    session: DaskSession, submitted: Submitted, status: str, error: BaseException | None
) -> None:
    """Resolve an erred Dask task (see the module docstring)."""
    if is_scheduler_lost(error):
        session.watch.scheduler_lost()
        return
    submitted.erred = True
    blamed = blamed_key(error)
    upstream = _erred_upstream(submitted) if status == "error" and blamed is None else None
    if blamed is not None and blamed != submitted.key:
        resubmit(session, submitted, f"upstream Dask task {blamed!r} kept killing its workers")
    elif blamed is not None:
        _settle_deaths(session, submitted, status, error)
    elif upstream is not None:
        resubmit(session, submitted, f"upstream Dask task {upstream!r} erred")
    else:
        fail(session, submitted, status, error)


def _settle_deaths(
    session: DaskSession, submitted: Submitted, status: str, error: BaseException | None
) -> None:
    """Dask gave up on ``submitted`` after its workers died: blame by the evidence."""
    ledger = session.watch.deaths
    verdict = ledger.verdict(submitted.key)
    ledger.forget([submitted.key])
    _blame(session, submitted, verdict, status, error)
    if not session.settling_together:
        _settle_together(session, verdict)


def _blame(
    session: DaskSession,
    submitted: Submitted,
    verdict: Verdict,
    status: str,
    error: BaseException | None,
) -> None:
    """Resubmit a bystander; split a batch that crashed workers; fail a task run that did."""
    unfinished = sum(1 for handle in submitted.handles if not handle.is_final)
    if verdict.role is Role.BYSTANDER:
        logger.info(
            "Dask gave up on %s after %d worker deaths, but it only waited beside the task "
            "that crashed each of them (%s): resubmitting it.",
            submitted.key,
            len(verdict.deaths),
            "; ".join(
                f"{d.worker}: {', '.join(sorted(session.watch.deaths.culprits(d)))}"
                for d in verdict.deaths
            ),
        )
        resubmit(session, submitted, verdict.cause)
    elif unfinished > 1:
        split(session, submitted)
    else:
        fail(session, submitted, status, error, verdict)


def _settle_together(session: DaskSession, verdict: Verdict) -> None:
    """Settle the other Dask tasks the same deaths made Dask give up on, now: a map's
    children queued beside a killer are resubmitted together, not one per wait."""
    keys = {key for death in verdict.deaths[-1:] for key in death.ours}
    session.settling_together = True
    try:
        for key in sorted(keys):
            other = session.by_key.get(key)
            future = other.future if other is not None else None
            if other is not None and future is not None and future.status == "error":
                session.settle(other)
    finally:
        session.settling_together = False


def _erred_upstream(submitted: Submitted) -> str | None:
    """The key of a source that erred on Dask (settled, or erred and not settled yet)."""
    for source in submitted.sources:
        if isinstance(source, Submitted):
            future = source.future
            if source.erred or (future is not None and future.status in _FAILED_STATUSES):
                return source.key
    return None


def argument(session: DaskSession, source: Any) -> Any:
    """What to pass for ``source`` now: a healthy Dask future, or the final value."""
    if not isinstance(source, Submitted):
        return source
    while source.replaced_by is not None:
        source = source.replaced_by
    if source.recomputes is not None:  # raises UpstreamLostError once it is not healthy
        return lost_upstream.recomputed(source)
    future = source.future
    if future is not None and future.status in _FAILED_STATUSES:
        session.settle(source)
        return argument(session, source)
    if future is not None:
        return future
    if source.settled is not None:
        return source.settled
    if not source.handles:  # a slice its readers were done with: cut it again
        return lost_upstream.recompute(session, source, argument)
    states = [session.wait(handle) for handle in source.handles]
    if lost_upstream.is_lost(states):  # released, its result stayed on a worker: compute again
        return lost_upstream.recompute(session, source, argument)
    return states[0] if len(states) == 1 and source.handles[0].position is None else states


def resubmit(session: DaskSession, submitted: Submitted, cause: str) -> Submitted | None:
    """Submit ``submitted`` again under a new key, upstream arguments settled, unless it
    was resubmitted for ``cause`` before or ``MAX_RESUBMITS`` times already: then its
    task runs fail, naming the causes."""
    causes = submitted.causes
    if cause in causes or len(causes) >= MAX_RESUBMITS:
        _fail_with(
            session,
            submitted,
            lambda name: error_state(ResubmitLimitError(name, cause, list(causes))),
        )
        return None
    key = session.unique_key(f"{submitted.key}-again")
    payload = lost_upstream.rekeyed_payload(submitted, key)
    replacement = Submitted(
        key, submitted.function, payload, submitted.sources, submitted.task_id, submitted.options
    )
    replacement.causes = (*causes, cause)
    try:
        args = [argument(session, s) for s in submitted.sources]
    except UpstreamLostError as lost:
        _fail_with(session, submitted, lost.state_for)
        return None
    _take_over(session, submitted, replacement, args)
    return replacement


def split(session: DaskSession, submitted: Submitted) -> None:
    """Run each child of a batch whose workers died as its own Dask task."""
    from taskrun.dask.entry import run_one

    if not submitted.payload:  # every child had finished: nothing to run again
        fail(session, submitted, "error", None)
        return
    if submitted.task_ids is not None:  # a group: its members read each other
        _split_group(session, submitted)
        return
    task, context, topic, plans = submitted.payload
    try:
        args = [argument(session, s) for s in submitted.sources]
    except UpstreamLostError as lost:
        _fail_with(session, submitted, lost.state_for)
        return
    sources, suffix = rewired(submitted.sources), submitted.key.rsplit("-", 1)[-1]
    for handle, plan in zip(list(submitted.handles), list(plans), strict=True):
        if handle.is_final:
            continue
        key = session.unique_key(f"{handle.name}-{suffix}")
        single = Submitted(
            key,
            run_one,
            (task, context, topic, rekeyed(plan, key, alone=True)),
            sources,
            submitted.task_id,
            submitted.options,
        )
        single.handles = [handle]
        single.causes = submitted.causes
        handle.submitted, handle.position = single, None
        if session.register(single):
            single.future = session.client.submit(
                run_one, *single.payload, tuple(args), key=key, pure=False, **single.options
            )
    submitted.replaced_by = None
    submitted.future = None
    session.by_key.pop(submitted.key, None)


def _split_group(session: DaskSession, submitted: Submitted) -> None:
    """Run each unfinished member of a group whose workers died as its own Dask task; one
    that read an earlier member reads that member's new Dask task (or its final state)."""
    from taskrun.dask.entry import run_one

    tasks, context, topic, plans = submitted.payload
    assert submitted.task_ids is not None
    try:
        base = [argument(session, s) for s in submitted.sources]
    except UpstreamLostError as lost:
        _fail_with(session, submitted, lost.state_for)
        return
    suffix = submitted.key.rsplit("-", 1)[-1]
    moved: list[Any] = []  # per member: its new Dask task, or its final state
    for position, (handle, plan) in enumerate(zip(list(submitted.handles), plans, strict=True)):
        if handle.is_final:
            moved.append(session.state_of(handle))
            continue
        sources, args = list(rewired(submitted.sources)), list(base)
        refs = tuple(_moved_ref(session, ref, plans.own, moved, sources, args) for ref in plan.refs)
        key = session.unique_key(f"{handle.name}-{suffix}")
        alone = plan._replace(key=key, position=None, refs=refs)
        single = Submitted(
            key,
            run_one,
            (tasks[plans.tasks[position]], context, topic, tuple(alone)),
            sources,
            submitted.task_ids[position],
            submitted.options,
        )
        single.handles = [handle]
        single.causes = submitted.causes
        handle.submitted, handle.position = single, None
        if session.register(single):
            single.future = session.client.submit(
                run_one, *single.payload, tuple(args), key=key, pure=False, **single.options
            )
        moved.append(single)
    submitted.replaced_by = None
    submitted.future = None
    session.by_key.pop(submitted.key, None)


def _moved_ref(
    session: DaskSession,
    ref: tuple[Any, ...],
    own: int | None,
    moved: list[Any],
    sources: list[Any],
    args: list[Any],
) -> tuple[Any, ...]:
    """``ref`` with its pointers at earlier members pointing at their new arguments."""
    pointers: list[Any] = []
    for pointer in ref[1]:
        if isinstance(pointer, int) or pointer[0] != own:
            pointers.append(pointer)
            continue
        stop = pointer[1] + 1 if len(pointer) == 2 else pointer[2]
        for member in moved[pointer[1] : stop]:
            sources.append(member)
            args.append(argument(session, member))
            pointers.append(len(args) - 1)
    return (ref[0], tuple(pointers), *ref[2:])


def fail(
    session: DaskSession,
    submitted: Submitted,
    status: str,
    error: BaseException | None,
    verdict: Verdict | None = None,
) -> None:
    """Give every unfinished task run of ``submitted`` a state saying why it failed (with
    what the nanny said of its worker deaths, given their ``verdict``)."""
    memory = (verdict.memory_deaths, verdict.memory_bytes) if verdict is not None else (0, None)
    _fail_with(session, submitted, lambda name: failure_state(name, status, error, *memory))


def _fail_with(
    session: DaskSession, submitted: Submitted, state_for: Callable[[str], State]
) -> None:
    states = []
    failed = []
    for handle in submitted.handles:
        if not handle.is_final:
            handle.state = state_for(handle.name)
            failed.append(handle)
        states.append(session.state_of(handle))
    if not submitted.handles:  # a slice: its consumers see the failure as their upstream
        states.append(state_for(submitted.key))
    single = len(states) == 1 and (not submitted.handles or submitted.handles[0].position is None)
    submitted.settled = states[0] if single else states
    submitted.future = None
    with session.cond:
        session.by_key.pop(submitted.key, None)
        session.cond.notify_all()
    for handle in failed:
        session.listeners.tell(handle)


def fail_unfinished(session: DaskSession, state_for: Callable[[str], State]) -> int:
    """Fail every unfinished task run of the session with ``state_for(name)`` and drop
    their Dask tasks (the cluster cannot run them); returns how many failed. Any thread."""
    failed: list[DaskHandle] = []
    with session.cond:
        for submitted in list(session.by_key.values()):
            if is_finished(submitted):
                continue  # its results stay where they are
            for handle in submitted.handles:
                if not handle.is_final:
                    handle.state = state_for(handle.name)
                    failed.append(handle)
            if not submitted.handles:
                submitted.settled = state_for(submitted.key)
            submitted.erred = True
            submitted.unfinished = 0
            submitted.future = None
            del session.by_key[submitted.key]
        session.cond.notify_all()
    for handle in failed:
        session.listeners.tell(handle)
    return len(failed)


def refuse(session: DaskSession, submitted: Submitted, state_for: Callable[[str], State]) -> None:
    """``submitted`` will not go to Dask (the cluster cannot run it): fail its task runs."""
    failed = [handle for handle in submitted.handles if not handle.is_final]
    for handle in failed:
        handle.state = state_for(handle.name)
    if not submitted.handles:
        submitted.settled = state_for(submitted.key)
    submitted.erred = True
    with session.cond:
        session.cond.notify_all()
    for handle in failed:
        session.listeners.tell(handle)


def is_finished(submitted: Submitted) -> bool:
    """Every task run of ``submitted`` is final (a slice: its value is computed)."""
    if submitted.handles:
        return submitted.unfinished <= 0
    future = submitted.future  # a slice
    return future is not None and future.status == "finished"


def _take_over(session: DaskSession, old: Submitted, new: Submitted, args: list[Any]) -> None:
    new.handles = old.handles
    for handle in new.handles:
        handle.submitted = new
    new.recomputes, new.sources = old.recomputes, rewired(new.sources)
    old.replaced_by = new
    old.future = None
    session.by_key.pop(old.key, None)
    if session.register(new):
        new.future = session.client.submit(
            new.function, *new.payload, tuple(args), key=new.key, pure=False, **new.options
        )
