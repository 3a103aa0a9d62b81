"""The run journal: a record of every flow run and its task runs' final states.

    interface.py          the ``Journal`` protocol (SQLite now; a server database later)
    sqlite_journal.py     the embedded journal, ``$ORCHESTRATOR_HOME/runs.db``
    records.py            what is kept: msgpack metadata of states, never results
    recorder.py           one flow run's writer: batches, a writer thread, cancel polling
    controlled_runner.py  the task runner as a flow run drives it: journalled, cancellable
    resume.py             a DAG flow run's next attempt, from its persisted results
    function_resume.py    an ``@flow`` run's next attempt: calls matched by task and count
    paused.py             a paused task of a journalled run, resumed from any process
    settings.py           where the journal lives, and the on/off switch
    errors.py             a journal that cannot be used, named with the fix

Flow runs write it unless told not to (``journal=False``, ``orchestrator run
--no-journal``, ``ORCHESTRATOR_JOURNAL=off``); ``orchestrator runs`` reads it and
``orchestrator cancel RUN_ID`` asks a running flow run, in any process, to stop;
``flow.run(resume=RUN_ID)`` (``@flow``: ``main.run(params, resume=RUN_ID)``; ``orchestrator
run --resume``) runs what it left unfinished;
``resume_paused(flow, RUN_ID, task=NAME)`` (``orchestrator resume``) resumes a paused task.
"""

from __future__ import annotations

from orchestrator.journal.errors import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalVersionError,
    RunNotFoundError,
)
from orchestrator.journal.interface import Journal
from orchestrator.journal.paused import resume_paused
from orchestrator.journal.recorder import JournalWarning
from orchestrator.journal.records import FlowRunRecord, StateRecord, TaskRunRecord
from orchestrator.journal.resume import ResumeError
from orchestrator.journal.settings import journal_path
from orchestrator.journal.sqlite_journal import SQLiteJournal

__all__ = [
    "FlowRunRecord",
    "Journal",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalVersionError",
    "JournalWarning",
    "ResumeError",
    "RunNotFoundError",
    "SQLiteJournal",
    "StateRecord",
    "TaskRunRecord",
    "cancel_flow_run",
    "journal_path",
    "resume_paused",
]


def cancel_flow_run(run_id: str, journal: Journal | None = None) -> FlowRunRecord:
    """Ask the orchestrator running ``run_id`` (an id, a unique prefix, or ``"last"``) to
    cancel it; it notices within about a second. Returns the run as the journal had it.

    Raises:
        RunNotFoundError: no such run in the journal.
    """
    opened = journal is None
    chosen: Journal = SQLiteJournal() if journal is None else journal
    try:
        run = chosen.find_run(run_id)
        chosen.request_cancel(run.id)
        return run
    finally:
        if opened:
            chosen.close()
