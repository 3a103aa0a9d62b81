"""The run journal on real SQLite files: records, batches, concurrency, broken journals.

Each test writes its own file under ``tmp_path``; the autouse fixture in
``tests/conftest.py`` also points ``ORCHESTRATOR_HOME`` at a fresh directory, so flow
runs here never touch the developer's journal.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack
import pytest

from orchestrator import Flow, task
from orchestrator.journal import (
    JournalCorruptError,
    JournalLockedError,
    JournalVersionError,
    JournalWarning,
    RunNotFoundError,
    SQLiteJournal,
    StateRecord,
    TaskRunRecord,
    cancel_flow_run,
    journal_path,
)
from orchestrator.journal.recorder import RunRecorder
from orchestrator.journal.records import pack_state, state_record, summarise_parameters
from orchestrator.journal.settings import is_journal_wanted
from taskrun.states import Failed, Running, Success

pytestmark = pytest.mark.timeout(120)


def _running() -> StateRecord:
    return state_record(Running("Flow run is running."))


def _task_run(i: int, kind: str = "Success") -> TaskRunRecord:
    return TaskRunRecord("inc", f"inc-abc-{i}", i, StateRecord(kind, f"run {i}", time.time()))


def test_a_flow_run_and_its_task_runs_read_back_as_written(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "runs.db")
    journal.start_flow_run("run-1", "etl", "calm-otter", {"n": 3, "names": ["a"]}, _running())
    journal.record_task_runs("run-1", [_task_run(0), _task_run(1, "Failed"), _task_run(2)])
    journal.finish_flow_run("run-1", state_record(Failed("1/3 states failed.")))

    [run] = journal.latest_runs()
    assert (run.id, run.flow_name, run.run_name) == ("run-1", "etl", "calm-otter")
    assert run.state.kind == "Failed"
    assert run.state.message == "1/3 states failed."
    assert run.ended is not None
    assert run.ended >= run.started
    assert run.parameters == {"n": 3, "names": ["a"]}
    assert run.counts == {"Success": 2, "Failed": 1}
    runs = journal.task_runs("run-1")
    assert [(r.run_name, r.map_index, r.state.kind) for r in runs] == [
        ("inc-abc-0", 0, "Success"),
        ("inc-abc-1", 1, "Failed"),
        ("inc-abc-2", 2, "Success"),
    ]


def test_the_latest_state_of_a_task_run_replaces_the_earlier_one(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "runs.db")
    journal.start_flow_run("run-1", "etl", "n", {}, _running())
    journal.record_task_runs("run-1", [_task_run(0, "Cancelled")])
    journal.record_task_runs("run-1", [_task_run(0, "Success")])
    assert [r.state.kind for r in journal.task_runs("run-1")] == ["Success"]


def test_runs_are_found_by_id_prefix_or_last_and_a_missing_one_is_named(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "runs.db")
    journal.start_flow_run("aaaa-1", "etl", "first", {}, _running())
    time.sleep(0.01)  # "last" is by start time
    journal.start_flow_run("aaab-2", "etl", "second", {}, _running())
    assert journal.find_run("aaaa").run_name == "first"
    assert journal.find_run("second").id == "aaab-2"  # the name progress displays show
    assert journal.find_run("last").run_name == "second"
    with pytest.raises(RunNotFoundError, match=r"2 flow runs .* start with 'aaa'"):
        journal.find_run("aaa")
    with pytest.raises(RunNotFoundError, match=r"No flow run 'zz'.*orchestrator runs"):
        journal.find_run("zz")
    with pytest.raises(RunNotFoundError):
        journal.find_run("aaa_")  # "_" is a character here, not SQL's wildcard


def test_a_cancel_request_is_a_row_any_process_can_write(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteJournal(path).start_flow_run("run-1", "etl", "n", {}, _running())
    assert not SQLiteJournal(path).is_cancel_requested("run-1")
    cancel_flow_run("run-1", SQLiteJournal(path))
    assert SQLiteJournal(path).is_cancel_requested("run-1")


def test_the_schema_has_a_version_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteJournal(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(JournalVersionError, match=r"schema version is 99.*Upgrade orchestrator"):
        SQLiteJournal(path)


def test_a_corrupt_journal_names_the_file_and_how_to_move_it_aside(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(JournalCorruptError) as caught:
        SQLiteJournal(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"mv {path} {path}.broken" in message
    assert "--no-journal" in message


def test_a_locked_journal_waits_then_names_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    journal = SQLiteJournal(path, lock_seconds=0.3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program keeps a write transaction open
    try:
        with pytest.raises(JournalLockedError, match=r"locked by another process.*close that"):
            journal.start_flow_run("run-1", "etl", "n", {}, _running())
    finally:
        holder.execute("ROLLBACK")
    journal.start_flow_run("run-1", "etl", "n", {}, _running())  # free again: it works
    assert journal.find_run("run-1").flow_name == "etl"


def test_a_write_retries_while_another_writer_holds_the_lock_briefly(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    journal = SQLiteJournal(path, lock_seconds=20)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.5, lambda: holder.execute("ROLLBACK")).start()
    journal.start_flow_run("run-1", "etl", "n", {}, _running())
    assert journal.find_run("run-1").run_name == "n"


def test_eight_writer_threads_lose_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteJournal(path).close()

    def write(writer: int) -> None:
        journal = SQLiteJournal(path)  # each its own connection, as separate runs have
        run_id = f"run-{writer}"
        journal.start_flow_run(run_id, "etl", f"r{writer}", {}, _running())
        for batch in range(10):
            journal.record_task_runs(run_id, [_task_run(batch * 25 + i) for i in range(25)])
        journal.finish_flow_run(run_id, state_record(Success("done")))
        journal.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    journal = SQLiteJournal(path)
    runs = journal.latest_runs(limit=100)
    assert sorted(r.id for r in runs) == [f"run-{w}" for w in range(8)]
    assert all(r.counts == {"Success": 250} and r.state.kind == "Success" for r in runs)


_WRITER = textwrap.dedent(
    """
    import sys
    from orchestrator.journal import SQLiteJournal, StateRecord, TaskRunRecord
    path, writer = sys.argv[1], int(sys.argv[2])
    journal = SQLiteJournal(path)
    run_id = f"run-{writer}"
    journal.start_flow_run(run_id, "etl", "r", {}, StateRecord("Running", None, 1.0))
    for batch in range(20):
        journal.record_task_runs(run_id, [
            TaskRunRecord("t", f"t-{batch}-{i}", i, StateRecord("Success", None, 2.0))
            for i in range(50)
        ])
    journal.finish_flow_run(run_id, StateRecord("Success", None, 3.0))
    """
)


def test_eight_writer_processes_lose_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteJournal(path).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(w)]) for w in range(8)
    ]
    try:
        assert [p.wait(timeout=90) for p in writers] == [0] * 8
    finally:
        for process in writers:
            process.kill()
    journal = SQLiteJournal(path)
    runs = journal.latest_runs(limit=100)
    assert sorted(r.id for r in runs) == [f"run-{w}" for w in range(8)]
    assert all(r.counts == {"Success": 1000} and r.state.kind == "Success" for r in runs)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


class _CountingJournal(SQLiteJournal):
    """A real SQLite journal that counts its task-run transactions."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def record_task_runs(self, flow_run_id: str, records: Sequence[TaskRunRecord]) -> None:
        self.batches.append(len(records))
        super().record_task_runs(flow_run_id, records)


def test_the_recorder_writes_task_runs_in_batches_not_one_transaction_each(
    tmp_path: Path,
) -> None:
    journal = _CountingJournal(tmp_path / "runs.db")
    records = {i: _task_run(i) for i in range(2000)}
    recorder = RunRecorder(journal, "run-1", records.get)
    assert recorder.begin("etl", "calm-otter", {})
    for i in range(2000):
        recorder.add(i)  # a handle the resolver turns into its record
    recorder.finish(Success("done"))
    assert sum(journal.batches) == 2000
    assert len(journal.batches) <= 5, journal.batches
    assert journal.find_run("run-1").counts == {"Success": 2000}


def test_the_recorder_keeps_a_handle_it_cannot_resolve_yet_for_the_next_batch(
    tmp_path: Path,
) -> None:
    journal = SQLiteJournal(tmp_path / "runs.db")
    known: dict[int, TaskRunRecord] = {}
    recorder = RunRecorder(journal, "run-1", known.get)
    recorder.begin("etl", "n", {})
    recorder.add(7)  # its submission is not noted yet
    recorder.flush()
    assert journal.task_runs("run-1") == []
    known[7] = _task_run(7)
    recorder.finish(Success("done"))
    assert [r.run_name for r in journal.task_runs("run-1")] == ["inc-abc-7"]


class _Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


def test_records_hold_metadata_only_never_a_pickle() -> None:
    state = Success("Task run succeeded.", result=_Opaque())
    record = state_record(state)
    assert record.kind == "Success"
    assert record.message == "Task run succeeded."
    packed = msgpack.unpackb(pack_state(record))
    assert packed == [record.message, record.timestamp, None, None, 0, None, None]
    assert summarise_parameters({"n": 3, "obj": _Opaque(), "xs": (1, 2)}) == {
        "n": 3,
        "obj": "<Opaque>",
        "xs": [1, 2],
    }


def test_the_journal_switch_follows_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert is_journal_wanted(None)
    monkeypatch.setenv("ORCHESTRATOR_JOURNAL", "off")
    assert not is_journal_wanted(None)
    assert is_journal_wanted(True)
    monkeypatch.setenv("ORCHESTRATOR_JOURNAL", "on")
    assert not is_journal_wanted(False)


@task
def _double(x: int) -> int:
    return 2 * x


def _mapped_flow() -> Flow:
    with Flow("doubler") as flow:
        _double.map([1, 2, 3])
    return flow


def test_flow_runs_go_to_the_journal_under_orchestrator_home() -> None:
    state = _mapped_flow().run()
    assert state.is_successful()
    assert journal_path() == Path(os.environ["ORCHESTRATOR_HOME"]) / "runs.db"
    [run] = SQLiteJournal().latest_runs()
    assert (run.flow_name, run.state.kind) == ("doubler", "Success")
    assert run.counts == {"Success": 4}  # the list task and three children


def test_journal_false_and_the_environment_switch_keep_runs_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow = _mapped_flow()
    assert flow.run(journal=False).is_successful()
    monkeypatch.setenv("ORCHESTRATOR_JOURNAL", "off")
    assert flow.run().is_successful()
    assert not journal_path().exists()
    assert flow.run(journal=True).is_successful()  # the option wins over the variable
    assert len(SQLiteJournal().latest_runs()) == 1


def test_a_broken_journal_warns_once_and_the_runs_still_succeed(
    recwarn: pytest.WarningsRecorder,
) -> None:
    from orchestrator.journal import recorder

    recorder._warned.clear()  # warned once per process: start from none
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage" * 1000)
    flow = _mapped_flow()
    states: list[Any] = [flow.run(), flow.run()]
    assert all(s.is_successful() for s in states)
    warned = [w for w in recwarn.list if issubclass(w.category, JournalWarning)]
    assert len(warned) == 1
    assert str(path) in str(warned[0].message)
    assert "goes on without" in str(warned[0].message)
