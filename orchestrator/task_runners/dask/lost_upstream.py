"""Upstream results lost after their release: computed again, or the loss named.

The DAG runner releases a task run's Dask future once every consumer is submitted; the
cluster may then forget its value once those consumers have read it. When a consumer's
worker dies and ``repair`` submits it again (a bystander resubmitted, a batch split),
there may be no future left to pass for such an upstream:

    its states came back whole (inline results)   -> pass the states (as before)
    a result stayed on a worker and its future    -> compute it again: the upstream's Dask
      is gone                                        task is submitted once more (its recipe
                                                     is kept while its result lives on a
                                                     worker), its own released upstreams
                                                     likewise, as Dask computes again a lost
                                                     key whose future a client still holds
    that recomputation erred, or cannot be sent   -> ``UpstreamLostError``: the consumer's
                                                     task runs fail, naming the upstream

A recomputation is a Dask task without handles (the upstream's task runs are final: its
summaries change nothing); the upstream points at it (``replaced_by``), the consumers
submitted for it read it as an argument (``rewired``) and count as its readers, so it
leaves the registry, and Dask forgets the value, once the last of them finished. At most
one recomputation per upstream Dask task: no loop. Runs under the session's settle lock,
like ``repair``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from orchestrator.errors import OrchestratorError
from orchestrator.task_runners.dask.handles import DaskResult, Submitted
from taskrun.dask.shipping import rekeyed
from taskrun.states import Failed, State

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.session import DaskSession

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: the ``taskrun.dask.entry`` functions that run task runs (their plans name their key)
_RUN_FUNCTIONS = ("run_one", "run_batch", "run_group")
#: Dask future statuses that end a Dask task
_FAILED_STATUSES = ("error", "cancelled")
#: task-run names an error shows before "and N more"
_SHOWN = 3


class UpstreamLostError(OrchestratorError, RuntimeError):
    """A task run could not be submitted again: an upstream result it reads was lost with
    its worker and could not be computed again."""

    def __init__(self, task_run: str, upstream: str, reason: str) -> None:
        super().__init__(task_run, upstream, reason)
        self.task_run, self.upstream, self.reason = task_run, upstream, reason

    def for_run(self, task_run: str) -> UpstreamLostError:
        """The same loss, told to the task run ``task_run`` that reads it."""
        return UpstreamLostError(task_run, self.upstream, self.reason)

    def state_for(self, task_run: str) -> State:
        """The ``Failed`` state of ``task_run``, which reads the lost result."""
        error = self.for_run(task_run)
        return Failed(str(error), error)

    def __str__(self) -> str:
        return (
            f"Task run {self.task_run!r} could not run again after its Dask worker died: the "
            f"result of its upstream {self.upstream} was lost with that worker (the runner had "
            "released it once every downstream task run was submitted), and computing it "
            f"again failed: {self.reason}. Look at the workers' logs for why they died; more "
            "memory per worker (--memory-limit) or fewer mapped items in flight "
            "(Flow(..., max_in_flight=N)) make such deaths rarer."
        )


def is_lost(states: Iterable[State | None]) -> bool:
    """Some of these states' results stayed on a worker, and no future holds them any more
    (passing the states would mean fetching results the cluster may have forgotten)."""
    for state in states:
        kept = state._result if state is not None else None  # as stored: ``data`` fetches
        if isinstance(kept, DaskResult) and kept.current_future() is None:
            return True
    return False


def recomputed(source: Submitted) -> Any:
    """The future of the recomputation ``source``, while it is healthy."""
    future = source.future
    if future is not None and future.status not in _FAILED_STATUSES:
        return future
    upstream = source.recomputes
    assert upstream is not None
    why = "its Dask task erred" if future is not None else "its Dask task ended without it"
    raise UpstreamLostError("", _names(upstream), f"the recomputation {source.key!r}: {why}")


def recompute(
    session: DaskSession,
    source: Submitted,
    argument: Callable[[DaskSession, Any], Any],
) -> Any:
    """Submit the finished, released Dask task ``source`` once more, its own upstreams
    settled by ``argument`` (``repair.argument``); returns the new Dask future (see the
    module docstring).

    Raises:
        UpstreamLostError: it cannot be computed again.
    """
    if not source.payload or source.replaced_by is not None:
        raise UpstreamLostError(
            "", _names(source), "the runner no longer holds what it needs to run it again"
        )
    args = [argument(session, upstream) for upstream in source.sources]
    key = session.unique_key(f"{source.key}-recomputed")
    again = Submitted(
        key, source.function, rekeyed_payload(source, key), rewired(source.sources), source.task_id,
        source.options,
    )  # fmt: skip
    again.recomputes = source
    source.replaced_by = again
    logger.warning(
        "The result of %s was lost with its Dask worker after the runner had released it; "
        "computing it again (%s) for the downstream task runs submitted again.",
        _names(source),
        key,
    )
    if not session.register(again):
        raise UpstreamLostError("", _names(source), "the cluster cannot run Dask tasks any more")
    again.future = session.client.submit(
        again.function, *again.payload, tuple(args), key=key, pure=False, **again.options
    )
    return again.future


def rewired(sources: Iterable[Any]) -> tuple[Any, ...]:
    """``sources`` with each recomputed upstream replaced by its recomputation, so that a
    Dask task submitted with it counts as one of its readers."""
    return tuple(
        source.replaced_by
        if isinstance(source, Submitted)
        and source.replaced_by is not None
        and source.replaced_by.recomputes is source
        else source
        for source in sources
    )


def rekeyed_payload(submitted: Submitted, key: str) -> tuple[Any, ...]:
    """The payload with its plans carrying the new key (summaries name the Dask key)."""
    if getattr(submitted.function, "__name__", "") not in _RUN_FUNCTIONS:
        return submitted.payload
    task, context, topic, plans = submitted.payload
    if submitted.function.__name__ == "run_one":
        return (task, context, topic, rekeyed(plans, key))
    return (task, context, topic, plans.rekeyed(key))


def _names(submitted: Submitted) -> str:
    names = [handle.name for handle in submitted.handles]
    if not names:
        return f"Dask task {submitted.key!r}"
    shown = ", ".join(repr(name) for name in names[:_SHOWN])
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return f"task run {shown}{more}" if len(names) == 1 else f"task runs {shown}{more}"
