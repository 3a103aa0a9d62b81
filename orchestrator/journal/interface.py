"""The ``Journal`` protocol: what flow runs and the ``orchestrator`` command need of a
run journal, so that a server database can stand beside the embedded SQLite one.

Writers are the orchestrator processes that run flows (one transaction per call of
``record_task_runs``: callers batch); readers are ``orchestrator runs`` and
``orchestrator cancel``. A ``cancel`` request is a row that the running orchestrator
polls (``is_cancel_requested``), so any process that reaches the journal can ask.
Every method may raise ``JournalError`` naming the journal and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from orchestrator.journal.records import FlowRunRecord, StateRecord, TaskRunRecord


class Journal(Protocol):
    """A store of flow runs and their task runs' final states."""

    #: where it is, for messages (a file path, a database URL without its password)
    location: str

    def start_flow_run(
        self,
        flow_run_id: str,
        flow_name: str,
        run_name: str,
        parameters: Mapping[str, Any],
        state: StateRecord,
        source: str | None = None,
    ) -> None:
        """Record a flow run that begins (or, for a known id, begins again: its attempt
        counts up); ``source``: the flow file it was run from, if known."""

    def record_task_runs(self, flow_run_id: str, records: Sequence[TaskRunRecord]) -> None:
        """Record task-run states, all in one transaction (the latest per run name wins)."""

    def finish_flow_run(self, flow_run_id: str, state: StateRecord) -> None:
        """Record the flow run's final state."""

    def request_cancel(self, flow_run_id: str) -> None:
        """Ask the orchestrator running ``flow_run_id`` to cancel it."""

    def is_cancel_requested(self, flow_run_id: str) -> bool:
        """Whether someone asked to cancel ``flow_run_id``."""

    def latest_runs(self, limit: int = 20) -> list[FlowRunRecord]:
        """The most recently started flow runs, newest first, with task-run counts."""

    def find_run(self, run_id: str) -> FlowRunRecord:
        """The flow run whose id is ``run_id`` or starts with it, else the newest run of that
        name (``calm-otter``); ``"last"`` is the newest run.

        Raises:
            RunNotFoundError: no run, or several, match.
        """

    def task_runs(self, flow_run_id: str) -> list[TaskRunRecord]:
        """Every task run recorded for ``flow_run_id``, in recording order."""

    def close(self) -> None:
        """Release the connection; the journal is not used afterwards."""
