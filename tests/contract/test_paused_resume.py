"""A paused task of a journalled run, resumed with a flow built anew (as another process
would): ``orchestrator.journal.resume_paused`` on every task runner.

The flow is built twice from the same code, so the second build's tasks are new objects
that share only their names with the paused run's, as in a process that loads the file
again. The upstream task persists its result (``LocalResult``) and appends to a file each
time its body runs; after the resume it has run once, the paused task once, and the
journal shows the same flow run, now in its second attempt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator import Flow, task
from orchestrator.journal import ResumeError, SQLiteJournal, resume_paused
from orchestrator.results import LocalResult
from orchestrator.task_runners import BaseTaskRunner
from orchestrator.triggers import manual_only

pytestmark = pytest.mark.timeout(120)


def _build(here: Path, persisted: bool = True) -> Flow:
    """report -> publish (manual_only) and a side task, each appending to ran.txt."""

    def ran(name: str) -> None:
        with open(here / "ran.txt", "a") as out:
            out.write(f"{name}\n")

    @task(name="report", result=LocalResult(dir=here / "results") if persisted else None)
    def report(n: int) -> int:
        ran("report")
        return n * 2

    @task(name="publish", trigger=manual_only)
    def publish(value: int) -> str:
        ran("publish")
        return f"published {value}"

    @task(name="side")
    def side() -> str:
        ran("side")
        return "done"

    with Flow("approve") as built:
        publish(report(21))
        side()
    return built


def _ran(here: Path) -> list[str]:
    return (here / "ran.txt").read_text().split()


def test_a_paused_task_resumes_in_a_new_flow_from_the_journal(
    task_runner: BaseTaskRunner[Any], tmp_path: Path
) -> None:
    paused = _build(tmp_path).run(task_runner=task_runner)
    assert paused.is_paused()
    [first] = SQLiteJournal().latest_runs()

    again = _build(tmp_path)
    state = resume_paused(again, "last", task="publish", task_runner=task_runner)

    assert state.is_successful(), state
    by_name = {t.name: s for t, s in state.result().items()}
    assert by_name["publish"].result() == "published 42"
    assert sorted(_ran(tmp_path)) == ["publish", "report", "side"]  # nothing ran twice
    [run] = SQLiteJournal().latest_runs()
    assert (run.id, run.attempt, run.state.kind) == (first.id, 2, "Success")
    recorded = {r.task_name: r.state.kind for r in SQLiteJournal().task_runs(run.id)}
    assert recorded == {"report": "Success", "publish": "Success", "side": "Success"}


def test_the_only_paused_task_is_resumed_when_none_is_named(tmp_path: Path) -> None:
    assert _build(tmp_path).run().is_paused()
    assert resume_paused(_build(tmp_path), "last").is_successful()
    assert _ran(tmp_path).count("publish") == 1


def test_an_upstream_task_without_a_persisted_result_is_named_with_the_fix(
    tmp_path: Path,
) -> None:
    assert _build(tmp_path, persisted=False).run().is_paused()
    with pytest.raises(ResumeError, match=r"takes data from \['report'\].*result=LocalResult"):
        resume_paused(_build(tmp_path, persisted=False), "last", task="publish")
    assert "publish" not in _ran(tmp_path)


def test_a_task_that_is_not_paused_is_refused(tmp_path: Path) -> None:
    assert _build(tmp_path).run().is_paused()
    with pytest.raises(
        ResumeError, match=r"no paused task run of \['side'\].*paused: \['publish'\]"
    ):
        resume_paused(_build(tmp_path), "last", task="side")
    resumed = resume_paused(_build(tmp_path), "last", task="publish")
    assert resumed.is_successful()
    with pytest.raises(ResumeError, match="no task of it is paused"):
        resume_paused(_build(tmp_path), "last")
