"""The final state of a ``@flow`` run, decided from what its function returned.

    returned nothing            -> the task-run states: Failed('k/n states failed.') if k
                                   of the n failed, else Cancelled('k/n states were
                                   cancelled.') if k were cancelled, else
                                   Completed('All states completed.')
    a future or a state         -> that (final) state
    a list/tuple/set of them    -> as for nothing, over just those
    any other value             -> Completed holding it
    raised                      -> Failed('Flow run encountered an exception.') holding it

``NotReady`` runs (an upstream did not complete) are not counted as failed; a flow
run whose considered runs include NotReady ones but no failed one (it returned only
those) is Failed with 'k/n states did not run'. The
task-run states travel as ``TaskRunStates``: a plain list with the runs' names, which
notebooks draw as a table grouped by state.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from orchestrator.runs.futures import Future, present_state
from taskrun.states import Cancelled, Completed, DeferredResult, Failed, State

logger = logging.getLogger("orchestrator.flow_runs")


class TaskRunStates(list[State]):
    """A list of task-run states that also knows each run's name (same order)."""

    def __init__(self, states: Iterable[State] = (), names: Iterable[str] = ()) -> None:
        super().__init__(states)
        #: the task-run names, e.g. ``add_project-80de7cb5-1``
        self.names: list[str] = list(names)

    def by_state(self) -> dict[str, list[str]]:
        """Task-run names grouped by state name, in order of first appearance."""
        groups: dict[str, list[str]] = {}
        names = self.names if len(self.names) == len(self) else [f"#{i}" for i in range(len(self))]
        for name, state in zip(names, self, strict=True):
            groups.setdefault(state.name, []).append(name)
        return groups

    def summary(self) -> str:
        """Plain text: one line per state, with the count and the first names."""
        lines = [f"{len(self)} task runs"]
        for state_name, names in self.by_state().items():
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            lines.append(f"  {state_name}: {len(names)} ({shown})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return runs_table_html(list(zip(self.names, self, strict=False)))


def runs_table_html(runs: Sequence[tuple[str, State]]) -> str:
    """An HTML table of task runs grouped by state: colour, count and names."""
    groups: dict[str, tuple[State, list[str]]] = {}
    for name, state in runs:
        groups.setdefault(state.name, (state, []))[1].append(name)
    rows = []
    for state_name, (state, names) in groups.items():
        shown = ", ".join(html.escape(n) for n in names[:20])
        more = f" and {len(names) - 20} more" if len(names) > 20 else ""
        rows.append(
            f'<tr><td style="text-align:left;color:{state.color};font-weight:bold">'
            f"{html.escape(state_name)}</td><td>{len(names)}</td>"
            f'<td style="text-align:left">{shown}{more}</td></tr>'
        )
    head = "<tr><th>State</th><th>Count</th><th>Task runs</th></tr>"
    return f'<table class="orchestrator-task-runs">{head}{"".join(rows)}</table>'


def aggregate(states: Sequence[State], names: Sequence[str] = ()) -> State:
    """The state of a flow run from its task-run states (``k/n states failed.``)."""
    collected = TaskRunStates(states, names)
    failed = sum(1 for s in states if s.is_failed())
    if failed:
        return Failed(f"{failed}/{len(states)} states failed.", collected)
    unfinished = sum(1 for s in states if not s.is_finished())
    if unfinished:  # NotReady (or paused) runs: the flow run ended without them
        return Failed(
            f"{unfinished}/{len(states)} states did not run: an upstream task run "
            "did not complete.",
            collected,
        )
    cancelled = sum(1 for s in states if s.is_cancelled())
    if cancelled:  # never a success: the runs were stopped before they finished
        return Cancelled(f"{cancelled}/{len(states)} states were cancelled.", collected)
    return Completed("All states completed.", collected)


def flow_state_from(returned: Any, futures: Sequence[Future[Any]]) -> State:
    """The flow run's final state from the function's return value (see module docstring)."""
    if returned is None:
        return aggregate([_final(f) for f in futures], [f.name for f in futures])
    if isinstance(returned, Future):
        return _final(returned)
    if isinstance(returned, State):
        return present_state(returned)
    if (
        isinstance(returned, list | tuple | set)
        and returned
        and all(isinstance(item, Future | State) for item in returned)
    ):
        items = list(returned)
        states = [_final(i) if isinstance(i, Future) else present_state(i) for i in items]
        return aggregate(
            states, [i.name if isinstance(i, Future) else f"#{n}" for n, i in enumerate(items)]
        )
    return Completed(None, returned)


def results_to_keep(state: State, returned: Any) -> list[State]:
    """The states whose results must be fetched before the task runner closes.

    A Dask runner may leave big results on the cluster, readable only while it is open.
    The flow run's own result is fetched: the state itself, and for a list of task-run
    states the failed runs' exceptions (``result()`` re-raises them) or, when the function
    returned those runs, all of them. Other task-run results stay where they are.
    """
    value = state._result  # as stored: reading ``data`` would fetch it
    if not isinstance(value, TaskRunStates):
        return [state]
    return [s for s in value if returned is not None or s.is_failed()]


def failed_by_exception(error: BaseException) -> State:
    """The state of a flow run whose function raised ``error``."""
    return Failed("Flow run encountered an exception.", error)


def _final(future: Future[Any]) -> State:
    state = future.wait()
    assert state is not None, "wait() without a timeout returns a state"
    return state


def fetch_results(states: list[State], run_name: str) -> None:
    """Bring results kept on the cluster here while the runner is still open (still
    pickled: they are unpickled when someone reads them)."""
    for state in states:
        kept = state._result  # as stored: ``data`` would unpickle it
        if not isinstance(kept, DeferredResult):
            continue
        try:
            if not kept.fetch():  # a reference that can only be loaded: load it now
                state.data  # noqa: B018 - reading it loads and keeps the result
        except Exception:  # boundary: a lost result must not lose the run's state
            logger.warning(
                "Flow run %r: a result could not be fetched from the task runner before it closed",
                run_name,
                exc_info=True,
            )
