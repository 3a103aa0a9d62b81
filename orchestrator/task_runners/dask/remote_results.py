"""Results that stayed in Dask workers' memory: their placeholders, fetches and shapes.

A result over the runner's ``inline_result_bytes`` stays on the worker that computed it;
the orchestrator's state holds a ``DaskResult`` (``placeholder``) instead. Reading it
(``fetch_result``) runs ``pick_result`` where the value lives and brings it here still
pickled, in its ``InlineResult``: it is unpickled only when read. Measuring the shape of
a result this process does not hold (``shape_of_state``) runs ``flat_shape`` on the
cluster too, so mapping over a result never unpickles it here while a worker has it.

While a user holds the runner open (``DaskSession.keep_results``), a placeholder holds
the Dask future itself: the runner's ``release`` then only drops the session's own
reference, and the result stays fetchable for as long as its state is reachable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.task_runners.dask.handles import DaskHandle, DaskResult, ResultNotAvailableError
from taskrun.dask import entry as dask_entry
from taskrun.dask.records import FinalRecord
from taskrun.states import DeferredResult, State
from taskrun.wire import ResultShape, shape_of

if TYPE_CHECKING:
    from orchestrator.task_runners.dask.session import DaskSession


def placeholder(session: DaskSession, handle: DaskHandle, record: FinalRecord) -> DaskResult:
    """The ``DaskResult`` of a handle whose result stayed on its worker."""
    submitted = handle.submitted
    assert submitted is not None, "only a submitted task run leaves its result"
    held = handle.kept
    if held is None and session.keep_results:
        held = submitted.future
    return DaskResult(
        session.fetch_result,
        None if held is not None else submitted,  # holding the future: no cycle via handles
        handle.position,
        handle.name,
        nbytes=record.nbytes,
        type_name=record.result_type,
        length=record.length,
        problem=record.problem,
        key=submitted.key,
        future=held,
    )


def fetch_result(session: DaskSession, deferred: DaskResult) -> Any:
    """A result kept on a worker (``DaskResult.fetch``), as it travels: in its
    ``InlineResult``, unpickled only when read."""
    if session.closed:
        raise ResultNotAvailableError(deferred.name, deferred.nbytes, "closed")
    future = deferred.current_future()
    if future is None:
        raise ResultNotAvailableError(deferred.name, deferred.nbytes, "released")
    picked = session.client.submit(
        dask_entry.pick_result,
        future,
        deferred.position,
        pure=False,
        key=f"fetch-{deferred.key}-{deferred.position}",
    )
    return picked.result()


def shape_of_state(
    session: DaskSession, handle: DaskHandle, state: State, flattened: bool
) -> ResultShape:
    """The mapping shape of a final state: from its placeholder, measured on the cluster
    for a result a worker holds, else here (loading a result only this process has)."""
    kept = state._result  # look without loading a deferred result
    if isinstance(kept, DaskResult) and not flattened:
        return ResultShape(True, kept.length, kept.problem)
    future = kept.current_future() if isinstance(kept, DaskResult) else None
    submitted = handle.submitted
    if future is None and submitted is not None:
        future = submitted.future
    if not state.is_successful() or not isinstance(kept, DeferredResult) or future is None:
        return shape_of(state, flattened)
    assert submitted is not None
    measured = session.client.submit(
        dask_entry.flat_shape,
        future,
        handle.position,
        flattened,
        pure=False,
        key=f"measure-{submitted.key}",
    )
    shape: ResultShape = measured.result()
    return shape
