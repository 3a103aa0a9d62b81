"""Resume for ``@flow`` functions: which task calls of a new attempt re-use a result.

An ``@flow`` has no task list to match up front: its body calls tasks as it goes. A
resumed run (``main.run(params, resume=RUN_ID)``, ``orchestrator run FILE --resume``)
therefore matches calls as they come, by task name and call count, the number its run
names end with (``square-1f2e3d4c-17`` is the 18th run of ``square``, mapped children
included). A call whose journalled run finished with a persisted result gets that result
back (a ``Success`` reading it from its location) and does not run; every other call
runs. The attempt names its runs as the first one did, so the journal keeps one record
per run:

    journal:  square-1f2e3d4c-0 Success @/r/0.pkl   square-1f2e3d4c-1 Failed
    attempt:  square(0) -> Success(<stored /r/0.pkl>)   square(1) -> runs again

Refused up front, with a ``ResumeError`` saying what changed: a run of another flow, one
with other parameters (a call count would then name another input), and a journal whose
runs of one task name came from several tasks (they cannot be told apart). A task the
journal names that the attempt never calls is logged once it ends.

A paused task resumes the same way (``main.run(params, resume=RUN_ID, resume_task=NAME)``,
``orchestrator resume RUN_ID --task NAME``): the call whose journalled run is ``Paused``
starts from ``Resume``, so ``pause_task()`` and ``manual_only`` let it through.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.journal.interface import Journal
from orchestrator.journal.paused import chosen_paused, paused_task_names
from orchestrator.journal.records import TaskRunRecord, call_number
from orchestrator.journal.resume import ResumeError, resumable_run, stored_state
from taskrun.states import Resume, State

logger = logging.getLogger("orchestrator.journal")


class FunctionResume:
    """The journalled runs a resumed ``@flow`` attempt may re-use (see the module docstring).

    Args:
        flow_name: the flow's name, for messages.
        run_id: the resumed flow run's id (the attempt keeps it).
        prefixes: per task name, what the first attempt's run names start with.
        records: per task name, the journalled runs by call count.
    """

    def __init__(
        self,
        flow_name: str,
        run_id: str,
        prefixes: Mapping[str, str],
        records: Mapping[str, Mapping[int, TaskRunRecord]],
        resumed: frozenset[str] = frozenset(),
    ) -> None:
        self.flow_name, self.run_id = flow_name, run_id
        #: paused tasks whose paused calls start from ``Resume``
        self.resumed = resumed
        self._prefixes = dict(prefixes)
        self._records = {name: dict(runs) for name, runs in records.items()}
        self._claimed: dict[str, Any] = {}  # task name -> the task object calls matched
        self._lock = threading.Lock()
        #: calls answered from the journal so far
        self.reused = 0

    def prefix(self, task: Any) -> str | None:
        """The run-name prefix ``task``'s runs take, the first attempt's; None: its own.

        Raises:
            ResumeError: another task of the same name claimed the journal's runs.
        """
        name = task.name
        with self._lock:
            claimed = self._claimed.setdefault(name, task)
        if claimed is not task:
            raise ResumeError(
                self.flow_name,
                self.run_id,
                f"this attempt calls several tasks named {name!r}, so the journal's runs of "
                "that name cannot be matched to one of them.",
                "Give each task a unique name (task(name=...)), then run the flow anew.",
            )
        return self._prefixes.get(name)

    def reusable(self, task: Any, count: int) -> State | None:
        """The state of ``task``'s run number ``count`` if its result can be read back."""
        runs = self._records.get(task.name)
        record = runs.get(count) if runs else None
        result = getattr(task, "result", None)
        if record is None or result is None:
            return None
        state = stored_state(result, self.run_id, record)
        if state is not None:
            self.reused += 1
        return state

    def initial(self, task: Any, count: int) -> State | None:
        """``Resume`` for the call of a resumed task whose journalled run paused, else None."""
        if task.name not in self.resumed:
            return None
        record = self._records.get(task.name, {}).get(count)
        return Resume() if record is not None and record.state.kind == "Paused" else None

    def report_unused(self) -> None:
        """Log the journalled tasks this attempt never called (its code may have changed)."""
        unused = sorted(set(self._records) - set(self._claimed))
        if unused:
            logger.warning(
                "Flow %r: resumed flow run %s never called %s, which its earlier attempt "
                "ran; their journalled results were not used.",
                self.flow_name,
                self.run_id,
                unused[:10],
            )


def function_resume(
    journal: Journal | None,
    flow_name: str,
    run_id: str,
    parameters: Mapping[str, Any],
    paused: str | Sequence[str] | None = None,
) -> FunctionResume:
    """What resuming ``run_id`` (an id, a prefix, a run name or ``last``) re-uses; the
    ``paused`` task(s) named (``"*"``: the run's only paused one) resume from ``Resume``.

    Raises:
        RunNotFoundError: the journal has no such run.
        ResumeError: the run is of another flow, had other parameters, cannot be matched
            (see the module docstring), or has no such paused task.
    """
    if journal is None:
        from orchestrator.journal.sqlite_journal import SQLiteJournal

        opened = SQLiteJournal()
        try:
            return function_resume(opened, flow_name, run_id, parameters, paused)
        finally:
            opened.close()
    run = resumable_run(journal, flow_name, run_id, parameters)
    resumed: frozenset[str] = frozenset()
    if paused is not None:
        wanted = None if paused == "*" else paused
        names = chosen_paused(flow_name, run.id, paused_task_names(journal, run.id), wanted)
        resumed = frozenset(names)
    prefixes: dict[str, set[str]] = {}
    records: dict[str, dict[int, TaskRunRecord]] = {}
    for record in journal.task_runs(run.id):
        count = call_number(record.run_name)
        if count is None:
            continue
        prefix = record.run_name[: -len(str(count))]
        prefixes.setdefault(record.task_name, set()).add(prefix)
        records.setdefault(record.task_name, {})[count] = record
    several = sorted(name for name, found in prefixes.items() if len(found) > 1)
    if several:
        raise ResumeError(
            flow_name,
            run.id,
            f"its runs of {several[:10]} came from several tasks of each name, so they "
            "cannot be told apart.",
            "Give each task a unique name (task(name=...)), then run the flow anew.",
        )
    only = {name: found.pop() for name, found in prefixes.items()}
    return FunctionResume(flow_name, run.id, only, records, resumed)
