"""The embedded run journal: one SQLite file, ``$ORCHESTRATOR_HOME/runs.db``.

Several orchestrator processes (and threads) write one file at once, so:

- WAL mode: readers (``orchestrator runs``) never wait for a writer, and a writer's
  commit is one append to the log;
- every write is one ``BEGIN IMMEDIATE`` transaction (it takes the write lock at once, so
  two writers never deadlock upgrading read locks); SQLite's busy timeout waits for the
  lock, and a transaction that still meets SQLITE_BUSY is retried with a growing pause
  until ``lock_seconds`` have passed, then ``JournalLockedError`` names the file;
- a file SQLite cannot read gives ``JournalCorruptError`` (the file and how to move it
  aside), a newer schema ``JournalVersionError``.

Schema (version ``SCHEMA_VERSION``, kept in ``meta``):

    flow_runs        id, flow_name, run_name, kind, state (msgpack), started, ended,
                     parameters (msgpack), runner (host:pid), attempt,
                     counts (msgpack: task runs by state kind, kept with each batch),
                     source (the flow file ``orchestrator run`` ran; added to older files)
    task_run_batches flow_run_id, records (msgpack: one batch of task-run records, see
                     ``records.pack_task_runs``); read in order, the latest state of a
                     task-run name wins (of a task and map index, in a resumed run)
    cancel_requests  flow_run_id, requested, requested_by

A batch is one row, not a row per task run: SQLite releases Python's GIL around each
statement step, and 100,000 single-row steps cost the threads that submit and collect
the runs about 15% of a 100,000-child map; one row per batch leaves only the cost of
making the records.
The recorder writes each task run once per flow-run attempt, so the counts add up.

One connection per ``SQLiteJournal``, shared by its threads under a lock.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.journal.errors import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalVersionError,
    RunNotFoundError,
)
from orchestrator.journal.records import (
    FlowRunRecord,
    StateRecord,
    TaskRunRecord,
    call_number,
    pack_counts,
    pack_parameters,
    pack_state,
    pack_task_runs,
    unpack_counts,
    unpack_parameters,
    unpack_state,
    unpack_task_runs,
)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flow_runs (
    id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, run_name TEXT NOT NULL,
    kind TEXT NOT NULL, state BLOB NOT NULL, started REAL NOT NULL, ended REAL,
    parameters BLOB, runner TEXT NOT NULL DEFAULT '', attempt INTEGER NOT NULL DEFAULT 1,
    counts BLOB, source TEXT
);
CREATE INDEX IF NOT EXISTS flow_runs_by_start ON flow_runs (started);
CREATE TABLE IF NOT EXISTS task_run_batches (
    flow_run_id TEXT NOT NULL, written REAL NOT NULL, records BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS task_run_batches_by_run ON task_run_batches (flow_run_id);
CREATE TABLE IF NOT EXISTS cancel_requests (
    flow_run_id TEXT PRIMARY KEY, requested REAL NOT NULL, requested_by TEXT NOT NULL
);
"""

_T = TypeVar("_T")


class SQLiteJournal:
    """The run journal in one SQLite file (created, with its directory, when missing).

    Args:
        path: the file; default ``$ORCHESTRATOR_HOME/runs.db``.
        lock_seconds: how long a write waits for another writer's lock before
            ``JournalLockedError``.

    Raises:
        JournalCorruptError, JournalLockedError, JournalVersionError: see the module.
    """

    def __init__(self, path: str | Path | None = None, lock_seconds: float = 30.0) -> None:
        if path is None:
            from orchestrator.journal.settings import journal_path

            path = journal_path()
        self.path = Path(path)
        self.location = str(self.path)
        self.lock_seconds = lock_seconds
        self._lock = threading.RLock()  # _prepare writes inside a retried operation
        self._runner = f"{socket.gethostname()}:{os.getpid()}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=min(lock_seconds, 5.0), isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
        except (OSError, sqlite3.Error) as err:
            raise JournalCorruptError(self.location, f"cannot open it: {err}") from err
        try:
            self._retrying(self._prepare)
        except BaseException:
            self._db.close()
            raise

    # ---- writes ---------------------------------------------------------------------------------
    def start_flow_run(
        self,
        flow_run_id: str,
        flow_name: str,
        run_name: str,
        parameters: Mapping[str, Any],
        state: StateRecord,
        source: str | None = None,
    ) -> None:
        packed, params = pack_state(state), pack_parameters(parameters)

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO flow_runs (id, flow_name, run_name, kind, state, started, "
                "parameters, runner, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET kind = excluded.kind, state = excluded.state, ended = NULL, "
                "runner = excluded.runner, attempt = flow_runs.attempt + 1, "
                "source = COALESCE(excluded.source, flow_runs.source)",
                (flow_run_id, flow_name, run_name, state.kind, packed, state.timestamp,
                 params, self._runner, source),
            )  # fmt: skip

        self._transaction(write)

    def record_task_runs(self, flow_run_id: str, records: Sequence[TaskRunRecord]) -> None:
        if not records:
            return
        packed = pack_task_runs(records)
        added = Counter(r.state.kind for r in records)

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO task_run_batches VALUES (?, ?, ?)", (flow_run_id, time.time(), packed)
            )
            found = db.execute("SELECT counts FROM flow_runs WHERE id = ?", (flow_run_id,))
            row = found.fetchone()
            counts = Counter(unpack_counts(row[0] if row else None)) + added
            db.execute(
                "UPDATE flow_runs SET counts = ? WHERE id = ?", (pack_counts(counts), flow_run_id)
            )

        self._transaction(write)

    def finish_flow_run(self, flow_run_id: str, state: StateRecord) -> None:
        packed = pack_state(state)
        attempts = self._read("SELECT attempt FROM flow_runs WHERE id = ?", (flow_run_id,))
        counts = None  # a resumed run's task runs may be recorded twice: count the latest
        if attempts and attempts[0][0] > 1:
            counts = pack_counts(Counter(r.state.kind for r in self.task_runs(flow_run_id)))
        self._transaction(
            lambda db: db.execute(
                "UPDATE flow_runs SET kind = ?, state = ?, ended = ?, "
                "counts = COALESCE(?, counts) WHERE id = ?",
                (state.kind, packed, state.timestamp, counts, flow_run_id),
            )
        )

    def request_cancel(self, flow_run_id: str) -> None:
        by = f"{self._runner} (orchestrator cancel)"
        self._transaction(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO cancel_requests VALUES (?, ?, ?)",
                (flow_run_id, time.time(), by),
            )
        )

    # ---- reads ----------------------------------------------------------------------------------
    def is_cancel_requested(self, flow_run_id: str) -> bool:
        rows = self._read("SELECT 1 FROM cancel_requests WHERE flow_run_id = ?", (flow_run_id,))
        return bool(rows)

    def latest_runs(self, limit: int = 20) -> list[FlowRunRecord]:
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM flow_runs ORDER BY started DESC LIMIT ?", (limit,)
        )
        return [self._flow_run(row) for row in rows]

    def find_run(self, run_id: str) -> FlowRunRecord:
        if run_id == "last":
            rows = self._read(
                f"SELECT {_RUN_COLUMNS} FROM flow_runs ORDER BY started DESC LIMIT 1", ()
            )
        else:
            pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._read(
                f"SELECT {_RUN_COLUMNS} FROM flow_runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                (pattern + "%",),
            )
            if not rows:  # the name the progress display shows (``calm-otter``), newest
                rows = self._read(
                    f"SELECT {_RUN_COLUMNS} FROM flow_runs WHERE run_name = ? "
                    "ORDER BY started DESC LIMIT 1",
                    (run_id,),
                )
        if len(rows) != 1:
            raise RunNotFoundError(self.location, run_id, len(rows))
        return self._flow_run(rows[0])

    def task_runs(self, flow_run_id: str) -> list[TaskRunRecord]:
        rows = self._read(
            "SELECT records FROM task_run_batches WHERE flow_run_id = ? ORDER BY rowid",
            (flow_run_id,),
        )
        # the latest state of each task run, in first-recorded order: by task-run name; in a
        # resumed run by task, the name's number (map index or call count) and map index, as
        # a DAG attempt names its runs with a token of its own
        attempts = self._read("SELECT attempt FROM flow_runs WHERE id = ?", (flow_run_id,))
        resumed = bool(attempts) and attempts[0][0] > 1
        latest: dict[Any, TaskRunRecord] = {}
        for (packed,) in rows:
            for record in unpack_task_runs(packed):
                key: Any = record.run_name
                if resumed:
                    key = (record.task_name, call_number(record.run_name), record.map_index)
                latest[key] = record
        return list(latest.values())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- the connection -------------------------------------------------------------------------
    def _flow_run(self, row: Sequence[Any]) -> FlowRunRecord:
        run_id, flow_name, run_name, kind, state, started, ended, params, runner, counts = row[:10]
        return FlowRunRecord(
            run_id, flow_name, run_name, unpack_state(kind, state), started, ended,
            unpack_parameters(params), unpack_counts(counts), runner, int(row[10] or 1), row[11],
        )  # fmt: skip

    def _prepare(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        found = db.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchall()
        if found:
            self._check_version()
            self._add_source_column()
            return

        def create(db: sqlite3.Connection) -> None:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

        self._transaction(create)
        self._check_version()

    def _add_source_column(self) -> None:
        """A file written before ``source`` existed gets the column (it stays NULL)."""

        def columns(db: sqlite3.Connection) -> set[str]:
            return {row[1] for row in db.execute("PRAGMA table_info(flow_runs)")}

        def add(db: sqlite3.Connection) -> None:  # under the write lock: look again
            if "source" not in columns(db):
                db.execute("ALTER TABLE flow_runs ADD COLUMN source TEXT")

        if "source" not in columns(self._db):
            self._transaction(add)

    def _check_version(self) -> None:
        rows = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        found = int(rows[0][0]) if rows else 0
        if found > SCHEMA_VERSION:
            raise JournalVersionError(self.location, found, SCHEMA_VERSION)

    def _transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        def attempt() -> None:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                work(db)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

        self._retrying(attempt)

    def _read(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return self._retrying(lambda: self._db.execute(sql, args).fetchall())

    def _retrying(self, operation: Callable[[], _T]) -> _T:
        """Run ``operation`` under the connection lock, again while SQLite says busy."""
        deadline = time.monotonic() + self.lock_seconds
        pause = 0.01
        while True:
            try:
                with self._lock:
                    return operation()
            except sqlite3.OperationalError as err:
                if not _is_busy(err):
                    raise JournalError(
                        self.location,
                        f"SQLite failed: {err}.",
                        "Check that its directory is writable and the disk has room.",
                    ) from err
                if time.monotonic() >= deadline:
                    raise JournalLockedError(self.location, round(self.lock_seconds, 1)) from err
            except sqlite3.DatabaseError as err:  # "file is not a database", "malformed"
                raise JournalCorruptError(self.location, str(err)) from err
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


#: the ``flow_runs`` columns ``_flow_run`` reads, in its order
_RUN_COLUMNS = (
    "id, flow_name, run_name, kind, state, started, ended, parameters, runner, counts, "
    "attempt, source"
)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text
