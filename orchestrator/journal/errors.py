"""Errors of the run journal: each names the journal file and what to do about it.

A journal that cannot be used never costs a run: flow runs warn once and run on
without it (``RunRecorder``); the ``orchestrator runs``/``cancel`` commands, which
exist only to read or write it, show these messages and exit 2.
"""

from __future__ import annotations

from orchestrator.errors import OrchestratorError

#: how to run without the journal, offered by every message
_WITHOUT = (
    "To run without it, pass journal=False (orchestrator run --no-journal) or set "
    "ORCHESTRATOR_JOURNAL=off."
)


class JournalError(OrchestratorError):
    """The run journal at ``path`` cannot be used."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(path, problem, fix)
        self.path, self.problem, self.fix = path, problem, fix

    def __str__(self) -> str:
        return f"Run journal {self.path}: {self.problem} {self.fix} {_WITHOUT}"


class JournalCorruptError(JournalError):
    """The file is not a journal SQLite can read (damaged, or some other file)."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(
            path,
            f"the file is not a readable SQLite database ({detail}).",
            f"Move it aside (mv {path} {path}.broken); the next run starts a new journal. "
            "Or point ORCHESTRATOR_HOME at another directory.",
        )
        self.args = (path, detail)
        self.detail = detail


class JournalLockedError(JournalError):
    """Another connection held the journal's write lock for longer than we wait."""

    def __init__(self, path: str, waited: float) -> None:
        super().__init__(
            path,
            f"it stayed locked by another process for {waited} seconds.",
            "Another program holds a write transaction open on it (a sqlite3 shell, a "
            "stuck process): close that program, then try again.",
        )
        self.args = (path, waited)
        self.waited = waited


class JournalVersionError(JournalError):
    """The journal was written by a newer orchestrator whose schema this one cannot read."""

    def __init__(self, path: str, found: int, known: int) -> None:
        super().__init__(
            path,
            f"its schema version is {found}, newer than this orchestrator's {known}.",
            "Upgrade orchestrator, or point ORCHESTRATOR_HOME at another directory.",
        )
        self.args = (path, found, known)
        self.found, self.known = found, known


class RunNotFoundError(OrchestratorError, LookupError):
    """No flow run in the journal has this id (or id prefix)."""

    def __init__(self, path: str, run_id: str, matches: int = 0) -> None:
        super().__init__(path, run_id, matches)
        self.path, self.run_id, self.matches = path, run_id, matches

    def __str__(self) -> str:
        if self.matches > 1:
            return (
                f"{self.matches} flow runs in the journal {self.path} start with "
                f"{self.run_id!r}: give more of the id (see orchestrator runs)."
            )
        return (
            f"No flow run {self.run_id!r} in the journal {self.path}. "
            "'orchestrator runs' lists the runs it holds (with their ids)."
        )
