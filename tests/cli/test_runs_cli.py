"""``orchestrator runs``, ``runs show``, ``cancel`` and ``run --no-journal``, as commands.

Each test gets its own ``$ORCHESTRATOR_HOME`` (``tests/conftest.py``); subprocesses
inherit it, so what ``orchestrator run`` writes is what ``orchestrator runs`` reads.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from cli_support import run_cli

from orchestrator.journal import SQLiteJournal, StateRecord, journal_path

pytestmark = pytest.mark.timeout(120)

MAPPED = """
    from orchestrator import Flow, Parameter, task

    @task
    def numbers(count):
        return list(range(count))

    @task
    def half(x):
        if x == 3:
            raise ValueError("three is odd here")
        return x / 2

    with Flow("halves") as flow:
        half.map(numbers(Parameter("count", default=5)))
"""


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "halves.py"
    path.write_text(textwrap.dedent(MAPPED))
    return path


def test_runs_with_no_runs_yet_is_an_empty_table_not_an_error() -> None:
    listed = run_cli("runs")
    assert listed.returncode == 0, listed.stderr
    assert "Flow runs" in listed.stdout
    assert "No flow runs recorded yet." in listed.stdout
    as_json = run_cli("runs", "--json")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == []


def test_a_run_shows_in_runs_with_its_state_and_task_run_counts(flow_file: Path) -> None:
    ran = run_cli("run", str(flow_file), "-q", "--param", "count=5")
    assert ran.returncode == 1, ran.stdout + ran.stderr  # one child failed
    [run] = json.loads(run_cli("runs", "--json").stdout)
    assert run["flow"] == "halves"
    assert run["state"] == "Failed"
    assert run["task_runs"] == {"Failed": 1, "Success": 6}  # the Parameter is a task too
    assert run["parameters"] == {"count": 5}
    assert run["end"] is not None
    assert run["duration"] >= 0
    table = run_cli("runs").stdout
    assert run["id"] in table
    assert "halves" in table
    assert "Failed 1, Success 6" in table


def test_runs_show_summarises_mapped_children_per_task(flow_file: Path) -> None:
    assert run_cli("run", str(flow_file), "-q").returncode == 1
    shown = json.loads(run_cli("runs", "show", "last", "--json").stdout)
    tasks = {entry["task"]: entry for entry in shown["tasks"]}
    assert tasks["numbers"]["state"] == "Success"
    assert tasks["numbers"]["runs"] == 1
    half = tasks["half"]
    assert half["mapped"] is True
    assert half["runs"] == 5
    assert half["states"] == {"Success": 4, "Failed": 1}
    assert "ValueError: three is odd here" in half["message"]
    table = run_cli("runs", "show", shown["id"][:8]).stdout
    assert "Success 4, Failed 1" in table
    assert "three is odd here" in table


def test_runs_show_of_an_unknown_run_names_the_journal_and_exits_2() -> None:
    shown = run_cli("runs", "show", "nope")
    assert shown.returncode == 2
    assert "No flow run 'nope' in the journal" in shown.stderr
    assert "runs.db" in shown.stderr


def test_run_no_journal_leaves_the_journal_empty(flow_file: Path) -> None:
    assert run_cli("run", str(flow_file), "-q", "--no-journal").returncode == 1
    assert json.loads(run_cli("runs", "--json").stdout) == []


def test_a_corrupt_journal_is_named_with_the_fix_and_the_run_still_runs(
    flow_file: Path,
) -> None:
    journal_path().write_bytes(b"not a database" * 500)
    listed = run_cli("runs")
    assert listed.returncode == 2
    assert f"Run journal {journal_path()}" in listed.stderr
    assert "Move it aside" in listed.stderr
    ran = run_cli("run", str(flow_file), "-q")
    assert ran.returncode == 1  # the flow ran (one child fails), the journal did not stop it
    assert "Flow 'halves' finished in state" in ran.stdout
    assert "goes on without the journal" in ran.stderr


def test_cancel_of_a_finished_run_says_so_and_exits_1(flow_file: Path) -> None:
    run_cli("run", str(flow_file), "-q")
    cancelled = run_cli("cancel", "last")
    assert cancelled.returncode == 1
    assert "is over already (Failed); nothing to cancel" in cancelled.stdout


def test_cancel_of_a_running_run_writes_a_request_the_run_will_see() -> None:
    journal = SQLiteJournal()
    journal.start_flow_run("abc-123", "long", "busy-bee", {}, StateRecord("Running", None, 1.0))
    asked = run_cli("cancel", "abc")
    assert asked.returncode == 0, asked.stderr
    assert "Asked flow run abc-123 of flow 'long'" in asked.stdout
    assert journal.is_cancel_requested("abc-123")


RESUMABLE = """
    from pathlib import Path
    from orchestrator import Flow, task
    from orchestrator.results import LocalResult

    HERE = Path(__file__).parent

    @task(result=LocalResult(dir=HERE / "results"))
    def half(x):
        with open(HERE / "ran.txt", "a") as ran:
            ran.write(f"{x}\\n")
        if x == 3 and (HERE / "broken").exists():
            raise ValueError("three is broken today")
        return x / 2

    with Flow("resumable") as flow:
        half.map([0, 1, 2, 3])
"""


def test_run_resume_last_reruns_only_what_did_not_persist(tmp_path: Path) -> None:
    path = tmp_path / "resumable.py"
    path.write_text(textwrap.dedent(RESUMABLE))
    (tmp_path / "broken").touch()
    assert run_cli("run", str(path), "-q").returncode == 1
    (tmp_path / "broken").unlink()
    resumed = run_cli("run", str(path), "-q", "--resume", "last")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "ran.txt").read_text().split() == ["0", "1", "2", "3", "3"]
    [run] = json.loads(run_cli("runs", "--json").stdout)
    assert run["state"] == "Success"
    assert run["task_runs"] == {"Success": 5}  # the list task and four children, latest states


RESUMABLE_FUNCTION = """
    from pathlib import Path
    from orchestrator import flow, task
    from orchestrator.results import LocalResult

    HERE = Path(__file__).parent

    @task(result=LocalResult(dir=HERE / "results"))
    def half(x):
        with open(HERE / "ran.txt", "a") as ran:
            ran.write(f"{x}\\n")
        if x == 3 and (HERE / "broken").exists():
            raise ValueError("three is broken today")
        return x / 2

    @flow(name="halves")
    def halves(n: int = 2):
        return half.map(list(range(n)))
"""


def test_run_resume_of_a_flow_function_reruns_only_what_did_not_persist(tmp_path: Path) -> None:
    path = tmp_path / "halves.py"
    path.write_text(textwrap.dedent(RESUMABLE_FUNCTION))
    (tmp_path / "broken").touch()
    assert run_cli("run", str(path), "-q", "--param", "n=4").returncode == 1
    (tmp_path / "broken").unlink()
    refused = run_cli("run", str(path), "-q", "--resume", "last")  # n=2: not that run
    assert refused.returncode == 2
    assert "parameters differ from that run's: n=4 then, 2 now" in refused.stderr
    resumed = run_cli("run", str(path), "-q", "--param", "n=4", "--resume", "last")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "ran.txt").read_text().split() == ["0", "1", "2", "3", "3"]
    [run] = json.loads(run_cli("runs", "--json").stdout)
    assert (run["state"], run["attempt"]) == ("Completed", 2)
    assert run["task_runs"] == {"Success": 4}
