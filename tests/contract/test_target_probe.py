"""A mapped task's existing targets found in one pass, before its children are submitted
(``orchestrator/runs/target_probe.py``), on every task runner.

A hit child is ``Cached`` without being submitted: its body never runs, its value stays in
storage until a downstream task reads it, and the journal records it like any run. Where the
check cannot stand in for the child's own (a target naming an upstream input), each child
checks its target where it runs, with the same outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator import Flow, task
from orchestrator.engine.state import Cached, Failed, Success
from orchestrator.journal import SQLiteJournal
from orchestrator.results import LocalResult, ResultReadError
from orchestrator.runs.target_probe import existing_targets
from taskrun.results.stored import StoredResult

from .dag_api import run


def counted(record: Any, directory: Path, target: str) -> Any:
    @task(name="inc", result=LocalResult(dir=directory), target=target)
    def inc(x: int) -> int:
        record(("inc", x))
        return x + 1

    return inc


@task
def total(values: list[int]) -> int:
    return sum(values)


def _children(states: dict[Any, Any], name: str) -> list[Any]:
    return next(state for t, state in states.items() if t.name == name).map_states


def test_a_fully_cached_rerun_submits_no_child_and_the_reduce_reads_the_stored_values(
    task_runner, record, tmp_path
):
    inc = counted(record, tmp_path, "{task_name}/{map_index}.pkl")
    with Flow("probe") as flow:
        summed = total(inc.map(x=list(range(40))))
    _, first = run(flow, task_runner)
    assert first[summed].result() == sum(range(1, 41))
    assert len(record.events) == 40
    state, again = run(flow, task_runner)
    assert state.is_successful()
    assert again[summed].result() == sum(range(1, 41))
    assert len(record.events) == 40  # no body ran again
    hits = _children(again, "inc")
    assert [type(c) for c in hits] == [Cached] * 40
    assert "inc/7.pkl" in hits[7].message
    assert hits[7].result() == 8


def test_only_the_children_whose_target_is_gone_run_again(task_runner, record, tmp_path):
    inc = counted(record, tmp_path, "{map_index}.pkl")
    with Flow("probe") as flow:
        summed = total(inc.map(x=list(range(10))))
    run(flow, task_runner)
    for gone in (2, 5, 9):
        (tmp_path / f"{gone}.pkl").unlink()
    _, again = run(flow, task_runner)
    kinds = [type(c) for c in _children(again, "inc")]
    assert [i for i, kind in enumerate(kinds) if kind is Success] == [2, 5, 9]
    assert kinds.count(Cached) == 7
    assert sorted(x for _, x in record.events[10:]) == [2, 5, 9]
    assert again[summed].result() == sum(range(1, 11))


def test_a_target_naming_an_upstream_input_is_checked_by_each_child(task_runner, record, tmp_path):
    @task
    def numbers() -> list[int]:
        return [3, 4, 5]

    inc = counted(record, tmp_path, "inc-{x}.pkl")
    with Flow("probe") as flow:
        inc.map(x=numbers())
    run(flow, task_runner)
    _, again = run(flow, task_runner)
    assert [type(c) for c in _children(again, "inc")] == [Cached] * 3
    assert len(record.events) == 3


def test_hit_children_are_journalled_as_cached_runs(task_runner, record, tmp_path):
    inc = counted(record, tmp_path, "{map_index}.pkl")
    with Flow("probe") as flow:
        inc.map(x=[1, 2, 3])
    run(flow, task_runner)
    run(flow, task_runner)
    latest = SQLiteJournal().latest_runs()[0]
    runs = SQLiteJournal().task_runs(latest.id)
    children = [r for r in runs if r.map_index is not None]
    assert sorted(r.map_index for r in children) == [0, 1, 2]
    assert {r.state.kind for r in children} == {"Cached"}
    assert all(r.state.result_location.endswith(f"{r.map_index}.pkl") for r in children)


def test_a_hit_whose_file_cannot_be_read_fails_its_reader_naming_the_location(
    task_runner, record, tmp_path
):
    inc = counted(record, tmp_path, "{map_index}.pkl")
    with Flow("probe") as flow:
        summed = total(inc.map(x=[1, 2, 3]))
    run(flow, task_runner)
    (tmp_path / "1.pkl").write_bytes(b"not a pickle")
    state, again = run(flow, task_runner)
    assert state.is_failed()
    assert isinstance(again[summed], Failed)
    error = again[summed].result(raise_on_failure=False)
    assert isinstance(error, ResultReadError)
    assert "1.pkl" in str(error)


def test_the_check_declines_what_the_child_would_decide_otherwise(tmp_path):
    """Unit level: a template key not known before the run, or an upstream that did not
    succeed, leaves every child to check its own target."""
    (tmp_path / "0.pkl").write_bytes(b"")
    inc = counted(lambda event: None, tmp_path, "{map_index}.pkl")
    keys = {"flow_name": "probe", "parameters": {}}
    found = existing_targets(inc, 2, keys, {}, [], [Success()], set())
    assert list(found) == [0]
    assert isinstance(found[0]._result, StoredResult)
    assert not found[0]._result.held  # nothing read: the value stays in storage
    assert existing_targets(inc, 2, keys, {}, [], [Failed()], set()) == {}
    assert existing_targets(inc, 2, keys, {}, [], [Success()], {0}) == {}
    by_run_id = counted(lambda event: None, tmp_path, "{task_run_id}.pkl")
    assert existing_targets(by_run_id, 2, keys, {}, [], [], set()) == {}
