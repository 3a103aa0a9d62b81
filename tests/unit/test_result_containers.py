"""Containers (many results in one local file), the bulk cache index, and result locations
carried by worker summaries. Real files under ``tmp_path``; no cluster."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from orchestrator.results import LocalResult, Result, ResultReadError, ResultWriteError
from taskrun import cache_store
from taskrun.context import enter, leave
from taskrun.dask import record_states, records
from taskrun.results import containers
from taskrun.results.stored import StoredResult, result_location
from taskrun.states import Cached, Success


@pytest.fixture(autouse=True)
def _fresh_writers():
    """Each test starts new containers (a thread's containers outlive a test otherwise)."""
    containers.close_all()
    cache_store.clear()
    yield
    containers.close_all()
    cache_store.clear()


def test_appended_results_share_one_container_and_read_back_by_range(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    locations = [result.append(value, "flow/task") for value in ([1, 2], "three", None)]
    assert len({where.partition("#")[0] for where in locations}) == 1
    assert [result.read(where) for where in locations] == [[1, 2], "three", None]
    assert [p.suffix for p in (tmp_path / "flow" / "task").iterdir()] == [".results"]
    assert all(result.exists(where) for where in locations)


def test_each_thread_writes_its_own_container(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    found: list[str] = []

    def write() -> None:
        found.append(result.append("from a thread", "d"))
        containers.close_all()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    here = result.append("from the test", "d")
    assert found[0].partition("#")[0] != here.partition("#")[0]
    assert result.read(found[0]) == "from a thread"
    assert result.read(here) == "from the test"


def test_a_truncated_container_fails_the_read_with_the_location(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    where = result.append("x" * 100, "d")
    containers.close_all()
    container = where.removeprefix("file://").partition("#")[0]
    os.truncate(container, 10)
    assert not result.exists(where)
    with pytest.raises(ResultReadError, match=r"\.results#\d+:\d+.*EOFError"):
        result.read(where)


def test_a_plain_path_with_a_hash_is_not_taken_for_a_range():
    assert containers.byte_range("/data/run#1.pkl") is None
    assert containers.byte_range("/data/x.results#10:5") == ("/data/x.results", 10, 5)


def test_appending_where_no_directory_can_be_made_names_it(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ResultWriteError, match=r"file/d.*(NotADirectory|FileExists)"):
        LocalResult(dir=blocker).append(1, "d")


def test_only_local_storage_appends():
    assert LocalResult(dir="/tmp").can_append
    assert not Result("memory://no-append").can_append
    with pytest.raises(ResultWriteError, match="not on local disk"):
        Result("memory://no-append").append(1, "d")


# ---- the bulk cache index ----------------------------------------------------------------------
def _entry(location: str, minutes: int = 5) -> cache_store.CacheEntry:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    return cache_store.CacheEntry(None, {"x": 1}, {}, expires, location)


def test_index_records_are_appended_and_the_newest_per_key_wins(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    cache_store.write_index(result, "k", _entry("file:///old"))
    cache_store.write_index(result, "k", _entry("file:///new"))
    cache_store.write_index(result, "other", _entry("file:///other"))
    logs = list((tmp_path / ".cache").iterdir())  # a container per shard this thread wrote
    assert 1 <= len(logs) <= 2
    assert sum(len(log.read_bytes().splitlines()) for log in logs) == 3
    found = cache_store.read_index(result, "k")
    assert found is not None
    assert found.location == "file:///new"
    assert found.cached_inputs == {"x": 1}  # digests compare equal to the values
    assert cache_store.read_index(result, "missing") is None


def test_a_cache_key_with_tabs_and_newlines_keeps_its_own_record(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    cache_store.write_index(result, "a\tb\nc", _entry("file:///odd"))
    found = cache_store.read_index(result, "a\tb\nc")
    assert found is not None
    assert found.location == "file:///odd"
    assert cache_store.read_index(result, "a") is None


def test_the_index_is_read_once_per_flow_run_and_again_for_the_next(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    token = enter({"flow_run_id": "run-1"})
    try:
        assert cache_store.read_index(result, "k") is None  # read: nothing there yet
        cache_store.write_index(result, "k", _entry("file:///a"))
        assert cache_store.read_index(result, "k") is None  # not read again in this run
    finally:
        leave(token)
    token = enter({"flow_run_id": "run-2"})
    try:
        found = cache_store.read_index(result, "k")
    finally:
        leave(token)
    assert found is not None
    assert found.location == "file:///a"


def test_a_line_still_being_written_is_read_once_complete(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    cache_store.write_index(result, "k", _entry("file:///a"))
    log = tmp_path / ".cache" / f"written-by-hand{cache_store._shard_suffix(json.dumps('half'))}"
    with open(log, "ab") as handle:
        handle.write(b'"half"\t1.0\t{"key": "half", "loc')
    assert cache_store.read_index(result, "k") is not None
    assert cache_store.read_index(result, "half") is None
    with open(log, "ab") as handle:
        handle.write(b'ation": "file:///h", "expires": null, "inputs": {}, "parameters": {}}\n')
    cache_store.clear()
    found = cache_store.read_index(result, "half")
    assert found is not None
    assert found.location == "file:///h"


# ---- locations in worker summaries --------------------------------------------------------------
def test_a_summary_carries_the_location_and_the_orchestrators_state_keeps_it(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    where = result.write([1, 2, 3], "t.pkl")
    state = Cached("found", StoredResult(result, where, [1, 2, 3], key=where))
    _, record = records.summarize("key-1", None, "t", state, 10_000, 0.0)
    assert record.extras == {"location": where}
    assert record.result_type == "list"
    received = record_states.state_from_record(record, task_run="t")
    assert isinstance(received, Cached)
    assert result_location(received) == where
    assert received.result() == [1, 2, 3]


def test_a_summary_of_an_unstored_result_has_no_location():
    _, record = records.summarize("key-1", None, "t", Success("done", 3), 10_000, 0.0)
    assert record.extras is None
    assert result_location(record_states.state_from_record(record)) is None


def test_a_plain_value_with_a_location_attribute_is_not_taken_for_a_stored_result():
    class Place:
        location = "somewhere"

    assert result_location(Success("done", Place())) is None


def test_a_container_deleted_while_open_is_replaced_at_the_next_append(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    result.append("before", "d")
    shutil.rmtree(tmp_path / "d")
    where = result.append("after", "d")
    assert result.read(where) == "after"
    assert len(list((tmp_path / "d").iterdir())) == 1
