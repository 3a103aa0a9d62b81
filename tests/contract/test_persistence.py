"""Results, targets, checkpoints and caches on every task runner (files under tmp_path).

Bodies report each call to ``record`` (a shared recorder), so "the body did not run" is
checked by counting calls, never by timing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orchestrator import Flow, Parameter, task
from orchestrator.engine.cache_validators import all_inputs
from orchestrator.engine.state import Cached, Failed, Success
from orchestrator.results import LocalResult, ResultReadError, ResultWriteError, result_location
from taskrun import cache_store

from .dag_api import run

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty in-process cache (it lives as long as the process)."""
    cache_store.clear()
    yield
    cache_store.clear()


def counted(record: Any, **options: Any) -> Any:
    """A task adding one to ``x`` that records each call; ``x < 0`` fails."""

    @task(name="inc", **options)
    def inc(x: int) -> int:
        record(("inc", x))
        if x < 0:
            raise ValueError(f"negative {x}")
        return x + 1

    return inc


def children(states: dict[Any, Any], name: str) -> list[Any]:
    return next(state for t, state in states.items() if t.name == name).map_states


# ---- targets and checkpoints --------------------------------------------------------------------
def test_mapped_children_write_their_targets_and_a_rerun_reads_them(task_runner, record, tmp_path):
    inc = counted(record, result=LocalResult(dir=tmp_path), target="{task_name}/{map_index}.pkl")
    with Flow("f") as flow:
        inc.map(x=[1, 2, 3])
    _, states = run(flow, task_runner)
    assert sorted(p.name for p in (tmp_path / "inc").iterdir()) == ["0.pkl", "1.pkl", "2.pkl"]
    assert [type(c) for c in children(states, "inc")] == [Success] * 3
    state, states = run(flow, task_runner)
    assert state.is_successful()
    again = children(states, "inc")
    assert [type(c) for c in again] == [Cached] * 3
    assert [c.result() for c in again] == [2, 3, 4]
    assert "inc/0.pkl" in again[0].message
    assert record.count(("inc", 1)) == 1  # the body ran once, in the first run


def test_a_rerun_of_a_partly_failed_map_runs_only_the_failed_children(
    task_runner, record, tmp_path
):
    inc = counted(record, result=LocalResult(dir=tmp_path), target="{map_index}.pkl")
    values = Parameter("values")
    with Flow("f") as flow:
        inc.map(x=values)
    _, states = run(flow, task_runner, parameters={"values": [1, -2, 3, -4, 5]})
    assert [c.is_failed() for c in children(states, "inc")] == [False, True, False, True, False]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.pkl", "2.pkl", "4.pkl"]  # no failures
    state, states = run(flow, task_runner, parameters={"values": [1, 2, 3, 4, 5]})
    assert state.is_successful()
    assert [type(c) for c in children(states, "inc")] == [Cached, Success, Cached, Success, Cached]
    assert sorted(e for e in record.events if e[1] > 0) == [("inc", 1), ("inc", 2), ("inc", 3),
                                                             ("inc", 4), ("inc", 5)]  # fmt: skip


def test_a_skipped_run_is_not_checkpointed(task_runner, tmp_path):
    from orchestrator.engine.signals import SKIP

    @task(result=LocalResult(dir=tmp_path), target="skipped.pkl")
    def skips() -> None:
        raise SKIP("nothing to do")

    with Flow("f") as flow:
        skips()
    run(flow, task_runner)
    assert not (tmp_path / "skipped.pkl").exists()


def test_a_target_template_naming_a_missing_key_fails_the_task_naming_it(task_runner, tmp_path):
    inc = counted(lambda event: None, result=LocalResult(dir=tmp_path), target="{nope}/{x}.pkl")
    with Flow("f") as flow:
        done = inc(x=1)
    state, states = run(flow, task_runner)
    assert state.is_failed()
    assert isinstance(states[done], Failed)
    assert "{nope}" in states[done].message
    assert "Available keys:" in states[done].message
    assert "flow_name" in states[done].message


def test_an_unwritable_location_fails_the_task_with_the_path_and_the_other_tasks_go_on(
    task_runner, tmp_path
):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")

    @task(result=LocalResult(dir=blocker))
    def stored() -> int:
        return 1

    @task
    def other() -> int:
        return 2

    with Flow("f") as flow:
        bad, good = stored(), other()
    _, states = run(flow, task_runner)
    assert isinstance(states[bad], Failed)
    assert isinstance(states[bad].result(raise_on_failure=False), ResultWriteError)
    assert str(blocker) in states[bad].message
    assert states[good].result() == 2


def test_a_target_that_cannot_be_read_back_fails_with_its_location(task_runner, tmp_path):
    (tmp_path / "broken.pkl").write_bytes(b"not a pickle")
    inc = counted(lambda event: None, result=LocalResult(dir=tmp_path), target="broken.pkl")
    with Flow("f") as flow:
        done = inc(x=1)
    _, states = run(flow, task_runner)
    assert isinstance(states[done].result(raise_on_failure=False), ResultReadError)
    assert "broken.pkl" in states[done].message


def test_a_flow_result_is_the_default_of_its_tasks(task_runner, record, tmp_path):
    inc = counted(record, target="{task_name}.pkl")
    with Flow("f", result=LocalResult(dir=tmp_path)) as flow:
        inc(x=1)
    run(flow, task_runner)
    assert (tmp_path / "inc.pkl").is_file()


def test_checkpoint_false_writes_nothing_but_still_reads_a_target(task_runner, record, tmp_path):
    inc = counted(record, result=LocalResult(dir=tmp_path), target="t.pkl", checkpoint=False)
    with Flow("f") as flow:
        done = inc(x=1)
    run(flow, task_runner)
    assert not (tmp_path / "t.pkl").exists()
    LocalResult(dir=tmp_path).write(100, "t.pkl")
    _, states = run(flow, task_runner)
    assert isinstance(states[done], Cached)
    assert states[done].result() == 100


# ---- caches -------------------------------------------------------------------------------------
def test_cache_for_reuses_a_result_within_the_process_and_expires(task_runner, record):
    inc = counted(record, cache_for=MINUTE)
    with Flow("f") as flow:
        done = inc(x=1)
    run(flow, task_runner)
    _, states = run(flow, task_runner)
    assert isinstance(states[done], Cached)
    assert states[done].result() == 2
    assert record.count(("inc", 1)) == 1
    expiring = counted(record, cache_for=dt.timedelta(microseconds=1))
    with Flow("g") as short:
        expiring(x=7)
    run(short, task_runner)
    run(short, task_runner)
    assert record.count(("inc", 7)) == 2  # expired before the second run checked it


def test_a_cache_key_is_shared_across_tasks_and_flows(task_runner, record):
    first = counted(record, cache_for=MINUTE, cache_key="shared", cache_validator=all_inputs)
    second = counted(record, cache_for=MINUTE, cache_key="shared", cache_validator=all_inputs)
    with Flow("one") as one:
        first(x=5)
    with Flow("two") as two:
        done = second(x=5)
        other = second(x=6)
    run(one, task_runner)
    _, states = run(two, task_runner)
    assert isinstance(states[done], Cached)
    assert isinstance(states[other], Success)
    assert not isinstance(states[other], Cached)
    assert record.count(("inc", 5)) == 1


def test_the_default_lineage_key_follows_parameters(task_runner, record):
    inc = counted(record, cache_for=MINUTE)
    n = Parameter("n")
    with Flow("f") as flow:
        done = inc(x=n)
    run(flow, task_runner, parameters={"n": 1})
    _, states = run(flow, task_runner, parameters={"n": 1})
    assert isinstance(states[done], Cached)
    _, states = run(flow, task_runner, parameters={"n": 2})
    assert states[done].result() == 3
    assert not isinstance(states[done], Cached)


def test_a_persisted_cache_survives_the_in_process_cache(task_runner, record, tmp_path):
    inc = counted(record, cache_for=MINUTE, result=LocalResult(dir=tmp_path))
    with Flow("f") as flow:
        inc.map(x=[1, 2])
    run(flow, task_runner)
    logs = list((tmp_path / ".cache").iterdir())  # JSON lines appended, no file per child
    assert {log.suffix for log in logs} == {".jsonl"}
    assert sum(len(log.read_bytes().splitlines()) for log in logs) == 2
    cache_store.clear()  # as a new process would start
    _, states = run(flow, task_runner)
    assert [type(c) for c in children(states, "inc")] == [Cached, Cached]
    assert [c.result() for c in children(states, "inc")] == [2, 3]
    assert record.count(("inc", 1)) == 1


def test_a_cached_downstream_of_a_stored_upstream_is_found_again(task_runner, record, tmp_path):
    inc = counted(record, result=LocalResult(dir=tmp_path), target="up/{map_index}.pkl")

    @task(cache_for=MINUTE, result=LocalResult(dir=tmp_path))
    def total(xs: list[int]) -> int:
        record(("total", len(xs)))
        return sum(xs)

    with Flow("f") as flow:
        summed = total(inc.map(x=[1, 2, 3]))
    run(flow, task_runner)
    cache_store.clear()
    _, states = run(flow, task_runner)
    assert isinstance(states[summed], Cached)
    assert states[summed].result() == 9
    assert record.count(("total", 3)) == 1


def test_a_cache_entry_whose_stored_result_was_deleted_is_a_miss(task_runner, record, tmp_path):
    inc = counted(record, cache_for=MINUTE, result=LocalResult(dir=tmp_path))
    with Flow("f") as flow:
        done = inc(x=1)
    run(flow, task_runner)
    for stored in tmp_path.glob("f/*/*.results"):
        stored.unlink()
    cache_store.clear()
    _, states = run(flow, task_runner)
    assert states[done].result() == 2
    assert not isinstance(states[done], Cached)
    assert record.count(("inc", 1)) == 2


def test_a_cached_index_entry_that_cannot_be_read_fails_with_its_location(
    task_runner, record, tmp_path
):
    inc = counted(record, cache_for=MINUTE, result=LocalResult(dir=tmp_path))
    with Flow("f") as flow:
        done = inc(x=1)
    run(flow, task_runner)
    (stored,) = tmp_path.glob("f/*/*.results")
    stored.write_bytes(b"truncated")
    cache_store.clear()
    _, states = run(flow, task_runner)
    assert isinstance(states[done].result(raise_on_failure=False), ResultReadError)
    assert stored.name in states[done].message


def test_a_cache_validator_that_raises_fails_the_task_naming_it(task_runner, record):
    def broken(entry: Any, inputs: Any, parameters: Any) -> bool:
        raise RuntimeError("validator bug")

    inc = counted(record, cache_for=MINUTE, cache_validator=broken)
    with Flow("f") as flow:
        done = inc(x=1)
    run(flow, task_runner)
    _, states = run(flow, task_runner)
    assert isinstance(states[done], Failed)
    assert "cache validator 'broken' raised RuntimeError('validator bug')" in states[done].message


# ---- where results are stored: containers and result_location --------------------------------
def test_checkpoints_without_a_target_share_a_container_and_each_reads_back(
    task_runner, record, tmp_path
):
    inc = counted(record, result=LocalResult(dir=tmp_path))
    with Flow("f") as flow:
        inc.map(x=[1, 2, 3, 4])
    _, states = run(flow, task_runner)
    locations = [result_location(c) for c in children(states, "inc")]
    assert all(isinstance(where, str) and ".results#" in where for where in locations)
    files = list(tmp_path.glob("f/*/*"))
    assert {f.suffix for f in files} == {".results"}
    assert len(files) <= 4  # one container per writing thread, not a file per child
    result = LocalResult(dir=tmp_path)
    assert [result.read(where) for where in locations] == [2, 3, 4, 5]


def test_results_deleted_between_two_runs_are_written_again_where_they_read_back(
    task_runner, record, tmp_path
):
    """Containers check that they still exist once per flow run, not at every append: the
    next run after a deletion starts new ones, rather than writing to unlinked files."""
    import shutil

    inc = counted(record, result=LocalResult(dir=tmp_path / "results"))
    with Flow("f") as flow:
        inc.map(x=[1, 2, 3, 4])
    run(flow, task_runner)
    shutil.rmtree(tmp_path / "results")
    _, states = run(flow, task_runner)
    locations = [result_location(c) for c in children(states, "inc")]
    result = LocalResult(dir=tmp_path / "results")
    assert [result.read(where) for where in locations if where] == [2, 3, 4, 5]


def test_the_orchestrators_state_knows_where_a_result_is_stored(task_runner, record, tmp_path):
    inc = counted(record, result=LocalResult(dir=tmp_path), target="{task_name}/{map_index}.pkl")
    with Flow("f") as flow:
        inc.map(x=[1, 2])
    _, first = run(flow, task_runner)
    _, again = run(flow, task_runner)
    expected = [f"file://{tmp_path}/inc/0.pkl", f"file://{tmp_path}/inc/1.pkl"]
    assert [result_location(c) for c in children(first, "inc")] == expected
    assert [type(c) for c in children(again, "inc")] == [Cached, Cached]
    assert [result_location(c) for c in children(again, "inc")] == expected


def test_a_state_whose_result_is_not_stored_has_no_location(task_runner, record):
    inc = counted(record)
    with Flow("f") as flow:
        done = inc(x=1)
    _, states = run(flow, task_runner)
    assert states[done].result() == 2
    assert result_location(states[done]) is None


def test_a_persisted_cache_index_is_read_in_bulk_by_a_later_flow_run(task_runner, record, tmp_path):
    inc = counted(record, cache_for=MINUTE, result=LocalResult(dir=tmp_path))
    with Flow("f") as flow:
        inc.map(x=list(range(20)))
    run(flow, task_runner)
    cache_store.clear()
    _, states = run(flow, task_runner)
    assert [type(c) for c in children(states, "inc")] == [Cached] * 20
    assert [c.result() for c in children(states, "inc")] == list(range(1, 21))
    assert len([e for e in record.events if e[0] == "inc"]) == 20  # the first run's only
