"""Every example of ``reference/task-dependencies-futures.md`` on ``orchestrator``.

The SQLite examples write to a per-test database file. ``complex_flow_logic`` sleeps
briefly instead of 10 seconds and, instead of a fixed 2-second pause, its flow polls
until the sleep task has left Pending (a fixed pause would make the test depend on
how fast the cluster is).
"""

from __future__ import annotations

import datetime
import logging
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator import flow, task


# ---- A working example (plain Python) --------------------------------------------------------
def create_tables_plain(connection):
    sql_create_projects_table = """CREATE TABLE IF NOT EXISTS projects (
                                        id integer PRIMARY KEY,
                                        name text NOT NULL,
                                        begin_date text
                                        CHECK(length("name") >= 4)
                                    ); """

    cur = connection.cursor()
    cur.execute(sql_create_projects_table)
    connection.commit()


def add_project_plain(connection, name):
    sql = """INSERT INTO projects(name,begin_date)
              VALUES(?,?) """
    cur = connection.cursor()
    cur.execute(sql, (name, str(datetime.datetime.now(datetime.UTC))))
    connection.commit()
    return cur.lastrowid


def main_plain(project_names, db_file="/tmp/example.db"):
    connection = sqlite3.connect(db_file)
    create_tables_plain(connection)

    for name in project_names:
        add_project_plain(connection, name)


def project_names_in(db_file: Path) -> list[str]:
    with sqlite3.connect(db_file) as connection:
        return [row[0] for row in connection.execute("SELECT name FROM projects ORDER BY id")]


def test_plain_script_stops_at_the_bad_row_and_loses_the_critical_project(tmp_path):
    db_file = tmp_path / "example.db"
    main_plain(["prefect"], db_file=str(db_file))
    assert project_names_in(db_file) == ["prefect"]

    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        main_plain(["orion", "", "critically-important"], db_file=str(db_file))
    assert project_names_in(db_file) == ["prefect", "orion"]


# ---- Error handling (the flow) -----------------------------------------------------------------
@task
def create_tables(connection):
    create_tables_plain(connection)


@task
def add_project(connection, name):
    return add_project_plain(connection, name)


@flow(name="Add Projects to DB")
def main(project_names, db_file="/tmp/example.db"):

    # prefect may switch threads
    connection = sqlite3.connect(db_file, check_same_thread=False)
    create_tables(connection)

    for name in project_names:
        add_project(connection, name)


HEX = "[0-9a-f]{8}"
COMPLETED = re.escape("Completed(message=None, type=COMPLETED)")
FAILED_TASK = re.escape("Failed(message='Task run encountered an exception.', type=FAILED)")
DOCUMENT_LOG = [
    r"Beginning flow run '(?P<run>[a-z]+-[a-z]+)' for flow 'Add Projects to DB'\.\.\.",
    r"Starting task runner `SequentialTaskRunner`\.\.\.",
    rf"Submitting task run 'create_tables-{HEX}-0' to task runner\.\.\.",
    rf"Task run 'create_tables-{HEX}-0' finished in state {COMPLETED}",
    rf"Submitting task run 'add_project-(?P<token>{HEX})-0' to task runner\.\.\.",
    rf"Task run 'add_project-{HEX}-0' finished in state {COMPLETED}",
    rf"Submitting task run 'add_project-{HEX}-1' to task runner\.\.\.",
    rf"Task run 'add_project-{HEX}-1' encountered exception:",
    rf"Task run 'add_project-{HEX}-1' finished in state {FAILED_TASK}",
    rf"Submitting task run 'add_project-{HEX}-2' to task runner\.\.\.",
    rf"Task run 'add_project-{HEX}-2' finished in state {COMPLETED}",
    r"Shutting down task runner `SequentialTaskRunner`\.\.\.",
    r"Flow run '[a-z]+-[a-z]+' finished in state "
    + re.escape("Failed(message='1/4 states failed.', type=FAILED)"),
]


def run_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    names = ("orchestrator.flow_runs", "orchestrator.task_runs")
    return [r for r in caplog.records if r.name in names]


def test_flow_inserts_the_critical_project_despite_the_bad_row(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="orchestrator")
    db_file = tmp_path / "example.db"

    state = main(["orion", "", "critically-important"], db_file=str(db_file))

    assert project_names_in(db_file) == ["orion", "critically-important"]
    assert repr(state) == "Failed(message='1/4 states failed.', type=FAILED)"
    task_run_states = state.result(raise_on_failure=False)
    assert [repr(s) for s in task_run_states] == [
        "Completed(message=None, type=COMPLETED)",
        "Completed(message=None, type=COMPLETED)",
        "Failed(message='Task run encountered an exception.', type=FAILED)",
        "Completed(message=None, type=COMPLETED)",
    ]
    assert isinstance(task_run_states[2].result(raise_on_failure=False), sqlite3.IntegrityError)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        state.result()


def test_flow_logs_the_documents_lines_in_order(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="orchestrator")
    main(["orion", "", "critically-important"], db_file=str(tmp_path / "example.db"))

    records = run_records(caplog)
    messages = [r.getMessage() for r in records]
    assert len(messages) == len(DOCUMENT_LOG), "\n".join(messages)
    for pattern, message in zip(DOCUMENT_LOG, messages, strict=True):
        assert re.fullmatch(pattern, message), (pattern, message)
    tokens = {m.split("add_project-")[1][:8] for m in messages if "add_project" in m}
    assert len(tokens) == 1, "one token per task within a flow run"
    failure = records[DOCUMENT_LOG.index(rf"Task run 'add_project-{HEX}-1' encountered exception:")]
    assert failure.exc_info is not None
    assert failure.exc_info[0] is sqlite3.IntegrityError
    executor = [r for r in caplog.records if r.name == "orchestrator.TaskRunner"]
    assert executor == [], "the executor's own lines stay quiet in @flow runs"


def test_flow_script_prints_the_log_on_the_console(tmp_path):
    script, db_file = Path(__file__).with_name("example_add_projects.py"), tmp_path / "example.db"
    done = subprocess.run(
        [sys.executable, str(script), '["orion", "", "critically-important"]', str(db_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "ORCHESTRATOR_LOGGING": "on"},
    )
    lines = [line for line in done.stderr.splitlines() if "orchestrator." in line]
    assert "Beginning flow run '" in lines[0]
    assert lines[-1].endswith("finished in state Failed(message='1/4 states failed.', type=FAILED)")
    assert "Traceback (most recent call last):" in done.stderr
    assert "sqlite3.IntegrityError: CHECK constraint failed" in done.stderr
    assert project_names_in(db_file) == ["orion", "critically-important"]
    quiet = subprocess.run(
        [sys.executable, str(script), '["orion2"]', str(db_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "ORCHESTRATOR_LOGGING": "off"},
    )
    assert "orchestrator." not in quiet.stderr


# ---- Enforcing State Dependencies ------------------------------------------------------------
@flow(name="Add Projects to DB")
def main_with_wait_for(project_names, db_file="/tmp/example.db"):

    # prefect may switch threads
    connection = sqlite3.connect(db_file, check_same_thread=False)
    table_task = create_tables(connection)

    for name in project_names:
        add_project(connection, name, wait_for=[table_task])


def test_wait_for_runs_add_project_after_the_table_exists(tmp_path):
    db_file = tmp_path / "example.db"
    flow_state = main_with_wait_for(["test", "other"], db_file=str(db_file))
    # returns a list of task run states
    task_run_states = flow_state.result(raise_on_failure=False)
    assert [repr(s) for s in task_run_states] == ["Completed(message=None, type=COMPLETED)"] * 3
    assert project_names_in(db_file) == ["test", "other"]


def test_failed_table_creation_leaves_add_project_runs_pending_not_ready(tmp_path):
    db_file = tmp_path / "example.db"
    db_file.write_bytes(b"this is not a database" * 100)  # "for any reason" the table fails

    flow_state = main_with_wait_for(["test", "other"], db_file=str(db_file))

    task_run_states = flow_state.result(raise_on_failure=False)
    assert repr(flow_state) == "Failed(message='1/3 states failed.', type=FAILED)"
    assert task_run_states[0].is_failed()
    assert [(s.type.value, s.name) for s in task_run_states[1:]] == [("PENDING", "NotReady")] * 2
    assert all("create_tables-" in s.message for s in task_run_states[1:])
    with pytest.raises(sqlite3.DatabaseError):
        flow_state.result()


# ---- Advanced: Manual manipulation of state ------------------------------------------------
SLEEP_SECONDS = 1.0


@pytest.fixture
def dask_task_runner():
    try:
        from orchestrator.task_runners import DaskTaskRunner
    except (ImportError, AttributeError) as err:
        pytest.skip(f"DaskTaskRunner is not available yet (issue 3): {err}")
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": 1, "processes": False, "dashboard_address": ":0"}
    )


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_complex_flow_logic_sees_the_sleep_task_running_on_a_dask_worker(dask_task_runner, capsys):
    observed = []

    @task
    def sleep(secs):
        print("Beginning to sleep...")
        time.sleep(secs)
        return random.random()

    @task
    def fail():
        raise TypeError("Something was misconfigured")

    @flow(task_runner=dask_task_runner)
    def complex_flow_logic():
        long_sleep = sleep(SLEEP_SECONDS)

        deadline = time.monotonic() + 30  # the document sleeps 2 s here
        while long_sleep.get_state().is_pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        observed.append(long_sleep.get_state())
        if long_sleep.get_state().is_running():
            # can run custom code here!
            # including conditionally running other tasks
            print("Long sleep task is still running!")

        # blocks until complete and returns state
        state = long_sleep.wait()
        observed.append(state)
        if state.result() > 0.5:
            # conditionally run another task based on the output
            print("running fail task")
            fail()
        else:
            print("result was good")

    flow_state = complex_flow_logic()

    printed = capsys.readouterr().out
    assert "Long sleep task is still running!" in printed
    assert observed[0].is_running()
    value = observed[1].result()
    assert repr(observed[1]) == "Completed(message=None, type=COMPLETED)"
    if value > 0.5:
        assert "running fail task" in printed
        assert repr(flow_state) == "Failed(message='1/2 states failed.', type=FAILED)"
        with pytest.raises(TypeError, match="Something was misconfigured"):
            flow_state.result()
    else:
        assert "result was good" in printed
        assert flow_state.is_successful()
