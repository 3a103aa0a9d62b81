"""Resuming an ``@flow`` function's journalled run (``main.run(params, resume=RUN_ID)``), on
every task runner: calls whose results the first attempt persisted are answered from
them (their bodies do not run again), everything else runs, the run keeps its id, and a
run that does not fit (another flow, other parameters, same-named tasks) is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator import flow, task
from orchestrator.journal import ResumeError, SQLiteJournal
from orchestrator.results import LocalResult
from orchestrator.task_runners import BaseTaskRunner

pytestmark = pytest.mark.timeout(120)


def _only_run() -> Any:
    [run] = SQLiteJournal().latest_runs()
    return run


def test_a_resumed_map_reruns_only_the_children_that_failed(
    task_runner: BaseTaskRunner[Any], record: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.touch()

    @task(result=LocalResult(dir=tmp_path / "results"))
    def halve(x: int) -> float:
        record(("halve", x))
        if x == 2 and broken.exists():
            raise ValueError("two is broken today")
        return x / 2

    @task
    def add_up(values: list[float]) -> float:
        record(("add_up", len(values)))
        return sum(values)

    @flow(name="halves", task_runner=task_runner)
    def halves(n: int) -> Any:
        return add_up(halve.map(list(range(n))))

    first = halves(4)
    assert not first.is_successful()  # add_up did not run: NotReady
    first_run = _only_run()
    broken.unlink()
    ran_before = len(record.events)

    again = halves.run({"n": 4}, resume="last")

    assert again.is_successful(), again
    assert again.result() == 3.0
    assert sorted(record.events[ran_before:]) == [("add_up", 4), ("halve", 2)]
    resumed = _only_run()  # the same flow run, in its second attempt
    assert (resumed.id, resumed.attempt, resumed.state.kind) == (first_run.id, 2, "Completed")
    runs = SQLiteJournal().task_runs(resumed.id)
    assert sorted(r.map_index for r in runs if r.task_name == "halve") == [0, 1, 2, 3]
    assert {r.state.kind for r in runs} == {"Success"}  # one record per run: no Failed left


def test_resumed_calls_feed_downstream_runs_and_unpersisted_ones_run_again(
    task_runner: BaseTaskRunner[Any], record: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.touch()

    @task(result=LocalResult(dir=tmp_path / "results", location="{task_run_name}.pkl"))
    def load(x: int) -> int:
        record(("load", x))
        return x * 10

    @task
    def scale(x: int) -> int:  # not persisted: a resumed attempt runs it again
        record(("scale", x))
        return x + 1

    @task(result=LocalResult(dir=tmp_path / "results", location="{task_run_name}.pkl"))
    def combine(a: int, b: int) -> int:
        record(("combine", a, b))
        if broken.exists():
            raise RuntimeError("not today")
        return a + b

    @flow(name="combiner", task_runner=task_runner)
    def combiner() -> Any:
        first, second = load(1), load(2)
        return combine(scale(first), second)

    assert not combiner().is_successful()
    broken.unlink()
    ran_before = len(record.events)

    again = combiner.run(resume="last")

    assert again.is_successful(), again
    assert again.result() == 31
    assert sorted(record.events[ran_before:]) == [("combine", 11, 20), ("scale", 10)]


def test_resume_refuses_other_parameters_and_names_them(
    task_runner: BaseTaskRunner[Any], tmp_path: Path
) -> None:
    @task(result=LocalResult(dir=tmp_path / "results"))
    def square(x: int) -> int:
        return x * x

    @flow(name="squares", task_runner=task_runner)
    def squares(n: int, label: str = "a") -> Any:
        return square.map(list(range(n)))

    assert squares(3).is_successful()
    with pytest.raises(ResumeError, match=r"parameters differ.*n=3 then, 5 now"):
        squares.run({"n": 5}, resume="last")

    @flow(name="cubes", task_runner=task_runner)
    def cubes(n: int, label: str = "a") -> Any:
        return square.map(list(range(n)))

    with pytest.raises(ResumeError, match=r"it is a run of flow 'squares'"):
        cubes.run({"n": 3}, resume="last")
    assert _only_run().attempt == 1  # nothing was started by the refused attempts


def test_resume_refuses_an_attempt_calling_two_tasks_of_one_name(
    task_runner: BaseTaskRunner[Any], tmp_path: Path
) -> None:
    results = LocalResult(dir=tmp_path / "results", location="{task_run_name}.pkl")

    @task(name="step", result=results)
    def one(x: int) -> int:
        return x

    @task(name="step", result=results)
    def other(x: int) -> int:
        return -x

    @flow(name="steps", task_runner=task_runner)
    def steps() -> Any:
        return one(1)

    assert steps().is_successful()
    assert steps.run(resume="last").is_successful()  # one task named step: it matches

    @flow(name="steps", task_runner=task_runner)
    def changed() -> Any:
        return [one(1), other(2)]

    failed = changed.run(resume="last")
    assert failed.is_failed()
    error = failed.result(raise_on_failure=False)
    assert isinstance(error, ResumeError)
    assert "several tasks named 'step'" in str(error)


def test_a_paused_call_resumes_and_a_task_that_did_not_pause_is_refused(
    task_runner: BaseTaskRunner[Any], record: Any, tmp_path: Path
) -> None:
    from orchestrator.triggers import manual_only

    @task(result=LocalResult(dir=tmp_path / "results"))
    def report(n: int) -> int:
        record(("report", n))
        return n * 2

    @task(trigger=manual_only)
    def publish(value: int) -> int:
        record(("publish", value))
        return value

    @flow(name="approval", task_runner=task_runner)
    def approval(n: int) -> Any:
        return publish(report(n))

    assert approval(4).is_paused()
    with pytest.raises(TypeError, match="needs resume=RUN_ID"):
        approval.run({"n": 4}, resume_task="publish")
    with pytest.raises(ResumeError, match=r"no paused task run of \['report'\]"):
        approval.run({"n": 4}, resume="last", resume_task="report")
    resumed = approval.run({"n": 4}, resume="last", resume_task="*")
    assert resumed.is_successful(), resumed
    assert resumed.result() == 8
    assert record.events == [("report", 4), ("publish", 8)]  # report's result was read back
