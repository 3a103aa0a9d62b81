"""Settling Dask tasks that erred: resubmit, split, or fail -- so no error spreads blindly.

Dask marks every dependent of an erred Dask task erred too. For a flow that is wrong:
a downstream task run must see its upstream's *state* and let its trigger decide
(``TriggerFailed``, or run anyway under ``all_finished``). So when a Dask task erred:

    an upstream Dask task erred      -> settle that upstream first, then resubmit this
                                        one with the upstream's final state as argument
    its workers died (KilledWorker),
    a batch of several children      -> split: one Dask task per child, so only the child
                                        that kills its worker fails
    otherwise                        -> Failed (or Cancelled) states saying why

Runs under the session's settle lock, in a caller's thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.task_runners.dask.faults import blamed_key, failure_state, is_killed_worker
from orchestrator.task_runners.dask.handles import Submitted
from taskrun.dask.shipping import rekeyed

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.session import DaskSession

#: Dask future statuses that end a Dask task ("lost" does not: Dask computes a lost
#: result again while a client holds its future)
_FAILED_STATUSES = ("error", "cancelled")
_RUN_FUNCTIONS = ("run_one", "run_batch")


def settle(
    session: DaskSession, submitted: Submitted, status: str, error: BaseException | None
) -> None:
    """Resolve an erred Dask task (see the module docstring)."""
    if status == "error" and _upstream_erred(submitted):
        resubmit(session, submitted)
    elif (
        is_killed_worker(error)
        and blamed_key(error) == submitted.key
        and len(submitted.handles) > 1
    ):
        split(session, submitted)
    else:
        fail(session, submitted, status, error)


def _upstream_erred(submitted: Submitted) -> bool:
    for source in submitted.sources:
        if isinstance(source, Submitted):
            future = source.future
            if future is None or future.status in _FAILED_STATUSES:
                return True
    return False


def argument(session: DaskSession, source: Any) -> Any:
    """What to pass for ``source`` now: a healthy Dask future, or the final value."""
    if not isinstance(source, Submitted):
        return source
    while source.replaced_by is not None:
        source = source.replaced_by
    future = source.future
    if future is not None and future.status in _FAILED_STATUSES:
        session.settle(source)
        return argument(session, source)
    if future is not None:
        return future
    if source.settled is not None:
        return source.settled
    states = [session.wait(handle) for handle in source.handles]
    return states[0] if len(states) == 1 and source.handles[0].position is None else states


def resubmit(session: DaskSession, submitted: Submitted) -> Submitted:
    """Submit ``submitted`` again under a new key, upstream arguments settled."""
    key = session.unique_key(f"{submitted.key}-again")
    payload = _rekeyed(submitted, key)
    replacement = Submitted(
        key, submitted.function, payload, submitted.sources, submitted.task_id, submitted.options
    )
    _take_over(session, submitted, replacement, [argument(session, s) for s in submitted.sources])
    return replacement


def split(session: DaskSession, submitted: Submitted) -> None:
    """Run each child of a batch whose workers died as its own Dask task."""
    from taskrun.dask.entry import run_one

    if not submitted.payload:  # every child had finished: nothing to run again
        fail(session, submitted, "error", None)
        return
    task, context, topic, plans = submitted.payload
    args = [argument(session, s) for s in submitted.sources]
    suffix = submitted.key.rsplit("-", 1)[-1]
    for handle, plan in zip(list(submitted.handles), list(plans), strict=True):
        if handle.is_final:
            continue
        key = session.unique_key(f"{handle.name}-{suffix}")
        single = Submitted(
            key,
            run_one,
            (task, context, topic, rekeyed(plan, key, None)),
            submitted.sources,
            submitted.task_id,
            submitted.options,
        )
        single.handles = [handle]
        handle.submitted, handle.position = single, None
        session.register(single)
        single.future = session.client.submit(
            run_one, *single.payload, tuple(args), key=key, pure=False, **single.options
        )
    submitted.replaced_by = None
    submitted.future = None
    session.by_key.pop(submitted.key, None)


def fail(
    session: DaskSession, submitted: Submitted, status: str, error: BaseException | None
) -> None:
    """Give every unfinished task run of ``submitted`` a state saying why it failed."""
    states = []
    failed = []
    for handle in submitted.handles:
        if not handle.is_final:
            handle.state = failure_state(handle.name, status, error)
            failed.append(handle)
        states.append(session.state_of(handle))
    if not submitted.handles:  # a slice: its consumers see the failure as their upstream
        states.append(failure_state(submitted.key, status, error))
    single = len(states) == 1 and (not submitted.handles or submitted.handles[0].position is None)
    submitted.settled = states[0] if single else states
    submitted.future = None
    with session.cond:
        session.by_key.pop(submitted.key, None)
        session.cond.notify_all()
    for handle in failed:
        session.listeners.tell(handle)


def _take_over(session: DaskSession, old: Submitted, new: Submitted, args: list[Any]) -> None:
    new.handles = old.handles
    for handle in new.handles:
        handle.submitted = new
    old.replaced_by = new
    old.future = None
    session.by_key.pop(old.key, None)
    session.register(new)
    new.future = session.client.submit(
        new.function, *new.payload, tuple(args), key=new.key, pure=False, **new.options
    )


def _rekeyed(submitted: Submitted, key: str) -> tuple[Any, ...]:
    """The payload with its plans carrying the new key (summaries name the Dask key)."""
    if getattr(submitted.function, "__name__", "") not in _RUN_FUNCTIONS:
        return submitted.payload
    task, context, topic, plans = submitted.payload
    if submitted.function.__name__ == "run_one":
        return (task, context, topic, rekeyed(plans, key))
    return (task, context, topic, plans.rekeyed(key))
