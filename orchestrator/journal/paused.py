"""Resuming a paused task of a journalled flow run, from any process.

A run whose task paused (``manual_only``, ``PAUSE``, ``pause_task``) ends ``Paused``;
the journal keeps its task runs. ``resume_paused(flow, RUN_ID, task="publish")``
(``orchestrator resume RUN_ID --task publish``) runs attempt N+1 of that run, with the
same flow run id:

    journal: report Success @file:///r/report.results#0:12, publish Paused
    resumed: report Success(<stored result>), publish Resume -> publish (and its
             downstream tasks) run; nothing upstream runs again

The paused task's data comes from its upstream tasks' persisted results, so each task
that feeds it (or a task downstream of it) data needs a ``result=`` (e.g.
``LocalResult``); one without is named, with that fix, before anything runs. The other
finished tasks (``archive`` in the nightly example) get their journalled states without
a result, so the flow state is decided as it would be in the process that paused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.journal.interface import Journal
from orchestrator.journal.records import TaskRunRecord
from orchestrator.journal.resume import ResumeError, resumed_states
from taskrun import states as state_classes
from taskrun.states import Mapped, Resume, State

if TYPE_CHECKING:
    from orchestrator.dag.flow import Flow
    from orchestrator.dag.task import Task


def paused_task_names(journal: Journal, run_id: str) -> list[str]:
    """The tasks whose latest task run in flow run ``run_id`` is ``Paused``, in run order."""
    latest = {r.task_name: r.state.kind for r in journal.task_runs(run_id)}
    return [name for name, kind in latest.items() if kind == "Paused"]


def resume_paused(
    flow: Flow,
    run_id: str,
    task: str | Sequence[str] | None = None,
    journal: Journal | None = None,
    **run_options: Any,
) -> State:
    """Resume the paused task(s) ``task`` (names; default: the run's only paused task) of
    the journalled run ``run_id`` (an id, a unique start of one, a run name, or "last");
    returns the flow state of that run's next attempt. ``run_options`` go to ``flow.run``
    (``task_runner=``, ``progress=``, ...).

    Raises:
        RunNotFoundError: the journal has no such run.
        ResumeError: the run is of another flow, has no such paused task, or a task feeding
            it data has no persisted result.
    """
    if journal is None:
        from orchestrator.journal.sqlite_journal import SQLiteJournal

        opened = SQLiteJournal()
        try:
            return resume_paused(flow, run_id, task, opened, **run_options)
        finally:
            opened.close()
    found_id, states = resumed_states(flow, run_id, journal)
    names = chosen_paused(flow.name, found_id, paused_task_names(journal, found_id), task)
    tasks = [_task_named(flow, found_id, name) for name in names]
    running = _downstream(flow, tasks)
    for each in running:
        _check_inputs(flow, found_id, each, states, running)
    recorded = _recorded_states(flow, journal.task_runs(found_id), states, running)
    given = {
        **recorded,
        **dict(run_options.pop("task_states", None) or {}),
        **{t: Resume() for t in tasks},
    }
    # the journal record is opened with the id found, so the attempt counts up
    return flow.run(resume=found_id, task_states=given, start_tasks=tasks, **run_options)


def chosen_paused(
    flow_name: str, run_id: str, paused: list[str], task: str | Sequence[str] | None
) -> list[str]:
    """The paused tasks to resume: those named (each must be paused), else the only one.

    Raises:
        ResumeError: none is paused, several are and none was named, or one named is not.
    """
    if task is None:
        if len(paused) == 1:
            return paused
        problem = (
            "no task of it is paused." if not paused else f"several tasks are paused: {paused}."
        )
        fix = "Name the task to resume (task=NAME, --task NAME)." if paused else _RUN_ANEW
        raise ResumeError(flow_name, run_id, problem, fix)
    wanted = [task] if isinstance(task, str) else list(task)
    missing = [name for name in wanted if name not in paused]
    if missing:
        raise ResumeError(
            flow_name,
            run_id,
            f"the journal shows no paused task run of {missing} (paused: {paused or 'none'}).",
            "Name a paused task, or run the flow anew." if paused else _RUN_ANEW,
        )
    return wanted


_RUN_ANEW = "Run the flow anew, or resume an unfinished run with flow.run(resume=RUN_ID)."


def _task_named(flow: Flow, run_id: str, name: str) -> Task:
    found = [t for t in flow.tasks if t.name == name]
    if len(found) != 1:
        raise ResumeError(
            flow.name,
            run_id,
            f"the flow has {len(found)} tasks named {name!r}.",
            "Give each task a unique name (task(name=...)) before resuming.",
        )
    return found[0]


def _downstream(flow: Flow, tasks: list[Task]) -> set[Task]:
    """``tasks`` and every task downstream of them: what the resumed attempt runs."""
    seen, todo = set(tasks), list(tasks)
    while todo:
        for below in flow.downstream_tasks(todo.pop()):
            if below not in seen:
                seen.add(below)
                todo.append(below)
    return seen


def _check_inputs(
    flow: Flow, run_id: str, task: Task, states: dict[Task, State], running: set[Task]
) -> None:
    """Each task outside ``running`` feeding ``task`` data must have its persisted
    result in ``states``."""
    feeding = {e.upstream_task for e in flow.edges_to(task) if e.key is not None} - running
    lacking = sorted(t.name for t in feeding if t not in states)
    if lacking:
        raise ResumeError(
            flow.name,
            run_id,
            f"task {task.name!r} takes data from {lacking}, whose results were not "
            "persisted in that run, so another process cannot give them to it.",
            f"Give {lacking[0]!r} a result (e.g. @task(result=LocalResult(dir=...))) and run "
            "the flow again; or resume in the process that ran it, with "
            "flow.run(task_states={**paused_state.result(), task: Resume()}, start_tasks=[task]).",
        )


def _recorded_states(
    flow: Flow, records: list[TaskRunRecord], states: dict[Task, State], running: set[Task]
) -> dict[Task, State]:
    """``states``, plus each other finished task's journalled state without its result
    (only read to decide the flow state: no task that runs takes data from them)."""
    by_task: dict[str, list[TaskRunRecord]] = {}
    for record in records:
        by_task.setdefault(record.task_name, []).append(record)
    given = dict(states)
    for each in flow.tasks:
        found = by_task.get(each.name)
        if each in given or each in running or not found:
            continue
        children = [r for r in found if r.map_index is not None]
        if not children:
            rebuilt = _state_of(found[-1])
        else:
            kids = [_state_of(r) for r in sorted(children, key=lambda r: r.map_index or 0)]
            known = [k for k in kids if k is not None]
            whole = len(known) == len(kids)
            rebuilt = Mapped("Mapped (from the journal).", map_states=known) if whole else None
        if rebuilt is not None and (rebuilt.is_finished() or rebuilt.is_mapped()):
            given[each] = rebuilt
    return given


def _state_of(record: TaskRunRecord) -> State | None:
    """A state of the record's kind and message, holding no result; None for a kind this
    version does not know."""
    kind = getattr(state_classes, record.state.kind, None)
    if not (isinstance(kind, type) and issubclass(kind, State)) or kind is Mapped:
        return None
    try:
        return kind(record.state.message)
    except TypeError:  # a kind that needs more than a message to be made
        return None
