"""Flow runs in the run journal, and cancelling them, on every task runner.

DAG runs (``flow.run``) and ``@flow`` runs write their flow run and each task run's
final state to ``$ORCHESTRATOR_HOME/runs.db`` (a fresh directory per test, see
``tests/conftest.py``); ``FlowRun.cancel()`` and ``Future.cancel()`` stop runs that have
not finished and the journal says so.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from shared_objects import SharedEvent

from orchestrator import Flow, flow, task
from orchestrator.journal import SQLiteJournal, cancel_flow_run
from orchestrator.task_runners import BaseTaskRunner
from taskrun.context import context

pytestmark = pytest.mark.timeout(120)


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def held(gate: SharedEvent, x: int) -> int:
    gate.wait(20)
    return x


def _only_run() -> Any:
    [run] = SQLiteJournal().latest_runs()
    return run


def test_a_dag_run_records_the_flow_run_and_every_task_run(
    task_runner: BaseTaskRunner[Any],
) -> None:
    with Flow("doubler") as dag:
        total(double.map([1, 2, 3]))
    state = dag.run(task_runner=task_runner)
    assert state.is_successful()
    run = _only_run()
    assert (run.flow_name, run.state.kind, run.counts) == ("doubler", "Success", {"Success": 5})
    runs = SQLiteJournal().task_runs(run.id)
    children = sorted(r.map_index for r in runs if r.task_name == "double")
    assert children == [0, 1, 2]
    assert len({r.run_name for r in runs}) == 5


def test_a_flow_function_run_records_its_parameters_and_task_runs(
    task_runner: BaseTaskRunner[Any],
) -> None:
    @flow(name="adder", task_runner=task_runner)
    def adder(n: int) -> Any:
        return total(double.map(list(range(n))))

    state = adder(4)
    assert state.is_successful()
    assert state.result() == 12
    run = _only_run()
    assert (run.flow_name, run.parameters, run.counts) == ("adder", {"n": 4}, {"Success": 5})
    indexes = sorted(
        r.map_index for r in SQLiteJournal().task_runs(run.id) if r.map_index is not None
    )
    assert indexes == [0, 1, 2, 3]


def test_flow_run_cancel_stops_a_map_and_records_it_cancelled(
    task_runner: BaseTaskRunner[Any], release: SharedEvent
) -> None:
    @flow(name="held-map", task_runner=task_runner)
    def held_map() -> Any:
        return held.map(gate=[release] * 40, x=list(range(40)))

    run = held_map.submit()
    deadline = time.monotonic() + 20
    while not run.futures and time.monotonic() < deadline:  # the first task runs submitted
        time.sleep(0.01)
    assert run.cancel("the test cancelled it")
    assert not run.cancel()  # asked once only
    release.set()
    state = run.wait(30)
    assert state is not None
    assert state.is_cancelled(), state
    recorded = _only_run()
    assert recorded.state.kind == "Cancelled"
    assert recorded.counts.get("Cancelled", 0) >= 1
    assert sum(recorded.counts.values()) == 40


def test_future_cancel_cancels_one_unfinished_task_run(
    task_runner: BaseTaskRunner[Any], release: SharedEvent
) -> None:
    outcome: dict[str, Any] = {}

    @flow(name="one-cancelled", task_runner=task_runner)
    def one_cancelled() -> Any:
        future = held(release, 1)
        outcome["cancelled"] = future.cancel()
        release.set()
        outcome["again"] = future.cancel()
        return future

    if type(task_runner).__name__ == "SequentialTaskRunner":  # the run is over at the call
        release.set()
    state = one_cancelled()
    if type(task_runner).__name__ == "SequentialTaskRunner":
        assert outcome == {"cancelled": False, "again": False}
        assert state.is_successful()
        return
    assert outcome == {"cancelled": True, "again": False}
    assert state.is_cancelled()
    assert _only_run().counts == {"Cancelled": 1}


def test_a_cancel_request_in_the_journal_stops_a_dag_run(
    task_runner: BaseTaskRunner[Any], release: SharedEvent, caplog: pytest.LogCaptureFixture
) -> None:
    @task
    def announce(gate: SharedEvent) -> str:
        return str(context.flow_run_id)

    with Flow("held-dag") as dag:
        first = announce(release)
        held.map(gate=[release] * 20, x=list(range(20)), upstream_tasks=[first])
    caplog.set_level("WARNING", logger="orchestrator.journal")
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("state", dag.run(task_runner=task_runner))
    )
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not SQLiteJournal().latest_runs():
        time.sleep(0.02)
    run_id = SQLiteJournal().find_run("last").id
    cancel_flow_run(run_id)  # as `orchestrator cancel` does from another process
    deadline = time.monotonic() + 20  # the run polls for requests about once a second
    while time.monotonic() < deadline and "cancelling" not in caplog.text:
        time.sleep(0.02)
    release.set()
    thread.join(30)
    state = result["state"]
    assert state.is_cancelled(), state
    recorded = SQLiteJournal().find_run(run_id)
    assert recorded.state.kind == "Cancelled"
    assert recorded.counts.get("Cancelled", 0) >= 1


def test_a_persisted_result_is_journalled_with_its_location(
    task_runner: BaseTaskRunner[Any], tmp_path: Path
) -> None:
    from orchestrator.results import LocalResult

    @task(result=LocalResult(dir=tmp_path), target="{task_name}/{map_index}.pkl")
    def stored(x: int) -> int:
        return x + 1

    with Flow("stored") as dag:
        stored.map([1, 2])
    assert dag.run(task_runner=task_runner).is_successful()
    runs = SQLiteJournal().task_runs(_only_run().id)
    locations = sorted(r.state.result_location or "" for r in runs if r.task_name == "stored")
    assert len(locations) == 2
    assert locations[0].endswith("0.pkl")
    assert locations[1].endswith("1.pkl")


def test_resume_reuses_persisted_children_and_reruns_only_the_rest(
    task_runner: BaseTaskRunner[Any], record: Any, tmp_path: Path
) -> None:
    from orchestrator.results import LocalResult

    broken = tmp_path / "broken"
    broken.touch()

    @task(result=LocalResult(dir=tmp_path / "results"))
    def halve(x: int) -> float:
        record(x)
        if x == 2 and broken.exists():
            raise ValueError("two is broken today")
        return x / 2

    @task
    def add_up(values: list[float]) -> float:
        return sum(values)

    with Flow("halves") as dag:
        total_task = add_up(halve.map([0, 1, 2, 3]))
    first = dag.run(task_runner=task_runner)
    assert first.is_failed()
    first_id = _only_run().id
    broken.unlink()
    ran_before = len(record.events)
    again = dag.run(task_runner=task_runner, resume="last")
    assert again.is_successful(), again
    assert again.result()[total_task].result() == 3.0
    assert sorted(record.events[ran_before:]) == [2]  # only the child that had failed ran
    resumed = _only_run()  # the same flow run, now in its second attempt
    assert resumed.id == first_id
    assert resumed.state.kind == "Success"
    assert resumed.counts.get("Failed", 0) == 0


def test_resume_refuses_a_run_whose_tasks_the_flow_no_longer_has(
    task_runner: BaseTaskRunner[Any],
) -> None:
    from orchestrator.journal.resume import ResumeError

    with Flow("changing") as dag:
        double(1)
    assert dag.run(task_runner=task_runner).is_successful()
    with Flow("changing") as changed:
        total([1, 2])
    with pytest.raises(ResumeError, match=r"tasks the flow no longer has: \['double'\]"):
        changed.run(task_runner=task_runner, resume="last")
