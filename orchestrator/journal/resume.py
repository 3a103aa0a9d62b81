"""Resume: a DAG flow run's task states rebuilt from the run journal, for a new attempt.

``flow.run(resume=RUN_ID)`` (``orchestrator run FILE --resume RUN_ID``, ``last`` for the
newest run) starts attempt N+1 of the run ``RUN_ID``, with the same flow run id. Each
task run the journal shows finished with a persisted result (``Success``/``Cached`` with
a result location, read back through the task's ``result``) is given to the new attempt
as it is; everything else runs again. A mapped task gets a ``Mapped`` state whose
children are the persisted ones and ``Pending`` ones, so it resumes child by child:

    journal: add-0 Success @/r/0.pkl, add-1 Failed, add-2 (never recorded)
    resumed: Mapped([Success(<stored /r/0.pkl>), Pending, Pending])  -> add-1, add-2 run

The journal must match the flow: a run of another flow, or one naming tasks the flow no
longer has (or has several of), is refused with a ``ResumeError`` saying what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import OrchestratorError
from orchestrator.journal.interface import Journal
from orchestrator.journal.records import (
    FlowRunRecord,
    TaskRunRecord,
    pack_parameters,
    unpack_parameters,
)
from taskrun.results.stored import StoredResult
from taskrun.states import Mapped, Pending, State, Success

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow
    from orchestrator.dag.task import Task

#: state kinds whose persisted result a new attempt re-uses
_REUSABLE = frozenset({"Success", "Cached"})


class ResumeError(OrchestratorError, ValueError):
    """A journalled flow run cannot be resumed with this flow."""

    def __init__(self, flow_name: str, run_id: str, problem: str, fix: str) -> None:
        super().__init__(flow_name, run_id, problem, fix)
        self.flow_name, self.run_id, self.problem, self.fix = flow_name, run_id, problem, fix

    def __str__(self) -> str:
        return (
            f"Flow {self.flow_name!r}: cannot resume flow run {self.run_id}: "
            f"{self.problem} {self.fix}"
        )


def resumed_states(
    flow: Flow,
    run_id: str,
    journal: Journal | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[str, dict[Task, State]]:
    """The flow run id ``run_id`` names and the task states its next attempt starts from
    (``parameters``: the new attempt's, which must be the run's).

    Raises:
        RunNotFoundError: the journal has no such run.
        ResumeError: the run is of another flow, had other parameters, or its tasks are
            not this flow's.
    """
    if journal is None:
        from orchestrator.journal.sqlite_journal import SQLiteJournal

        opened = SQLiteJournal()
        try:
            return resumed_states(flow, run_id, opened, parameters)
        finally:
            opened.close()
    run = resumable_run(journal, flow.name, run_id, parameters)
    by_task: dict[str, list[TaskRunRecord]] = {}
    for record in journal.task_runs(run.id):
        by_task.setdefault(record.task_name, []).append(record)
    tasks = _tasks_by_name(flow, run.id, by_task)
    states: dict[Task, State] = {}
    for name, records in by_task.items():
        task = tasks[name]
        state = _resumed(task, run.id, records)
        if state is not None:
            states[task] = state
    return run.id, states


def resumable_run(
    journal: Journal, flow_name: str, run_id: str, parameters: Mapping[str, Any] | None
) -> FlowRunRecord:
    """The journalled run ``run_id`` names, checked to be a run of ``flow_name`` with these
    ``parameters`` (as the journal summarises them; None: not checked)."""
    run = journal.find_run(run_id)
    if run.flow_name != flow_name:
        raise ResumeError(
            flow_name,
            run.id,
            f"it is a run of flow {run.flow_name!r}.",
            "Resume it with the file that defines that flow, or run this flow anew.",
        )
    if parameters is None:
        return run
    now = unpack_parameters(pack_parameters(parameters))  # as the journal would keep them
    then = run.parameters
    changed = sorted(n for n in set(now) | set(then) if now.get(n) != then.get(n))
    if changed:
        shown = ", ".join(
            f"{n}={then.get(n, '(not given)')!r} then, {now.get(n, '(not given)')!r} now"
            for n in changed[:5]
        )
        raise ResumeError(
            flow_name,
            run.id,
            f"its parameters differ from that run's: {shown}.",
            "Pass the run's parameters again (orchestrator runs show RUN_ID lists them), or "
            "run the flow anew with the new ones.",
        )
    return run


def _tasks_by_name(
    flow: Flow, run_id: str, by_task: Mapping[str, list[TaskRunRecord]]
) -> dict[str, Task]:
    """The flow's task for each journalled task name; refuses names it lacks or repeats."""
    found: dict[str, list[Task]] = {}
    for task in flow.tasks:
        found.setdefault(task.name, []).append(task)
    gone = sorted(set(by_task) - set(found))
    if gone:
        raise ResumeError(
            flow.name,
            run_id,
            f"the journal has task runs of tasks the flow no longer has: {gone[:10]} "
            f"(its tasks: {sorted(found)[:10]}).",
            "The flow changed since that run: run it anew instead of resuming.",
        )
    twice = sorted(name for name in by_task if len(found[name]) > 1)
    if twice:
        raise ResumeError(
            flow.name,
            run_id,
            f"several of its tasks are named {twice[:10]}, so the journal's task runs "
            "cannot be told apart.",
            "Give each task a unique name (task(name=...)) before resuming.",
        )
    return {name: found[name][0] for name in by_task}


def _resumed(task: Task, run_id: str, records: list[TaskRunRecord]) -> State | None:
    """The state ``task`` starts from: its persisted result(s), or None to run again."""
    result = getattr(task, "result", None)
    if result is None:
        return None  # nothing it stored can be read back
    children = [r for r in records if r.map_index is not None]
    if not children:
        return stored_state(result, run_id, records[-1])
    count = max(r.map_index for r in children if r.map_index is not None) + 1
    kept: list[State] = [Pending(f"Not finished in flow run {run_id}.")] * count
    for record in children:
        stored = stored_state(result, run_id, record)
        if stored is not None and record.map_index is not None:
            kept[record.map_index] = stored
    if all(state.is_pending() for state in kept):
        return None
    return Mapped(f"Resumed from flow run {run_id}.", map_states=kept)


def stored_state(result: Any, run_id: str, record: TaskRunRecord) -> State | None:
    """A ``Success`` reading back the result ``record`` says was persisted, else None."""
    location = record.state.result_location
    if record.state.kind not in _REUSABLE or not location:
        return None
    return Success(
        f"Resumed from flow run {run_id}: result stored at {location}.",
        StoredResult(result, location),
    )
