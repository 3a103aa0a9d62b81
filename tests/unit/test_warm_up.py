"""Warm-up time (``taskrun.warm_up``): a flow run's bulk read of the persisted cache index is
counted as warm-up once, not as the cost of every cache check; the reader hands it to the
batching measure once and then starts afresh."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from taskrun import cache_store
from taskrun.context import enter, leave
from taskrun.results.local import LocalResult
from taskrun.warm_up import add_warm_up, take_warm_up


def test_warm_up_is_taken_once_per_thread():
    take_warm_up()
    add_warm_up(0.25)
    add_warm_up(0.5)
    assert take_warm_up() == 0.75
    assert take_warm_up() == 0.0


def test_the_first_index_check_of_a_flow_run_counts_its_bulk_read_as_warm_up(tmp_path: Path):
    result = LocalResult(dir=tmp_path)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    for i in range(20_000):  # one shard holds ~1,250 of them: milliseconds to read
        entry = cache_store.CacheEntry(None, {"x": i}, {}, expires, f"file:///r/{i}")
        cache_store.write_index(result, f"key-{i}", entry)
    cache_store.clear()
    token = enter({"flow_run_id": "run-1"})
    try:
        take_warm_up()
        first = cache_store.read_index(result, "key-7")
        bulk = take_warm_up()
        second = cache_store.read_index(result, _same_shard_as("key-7"))
        after = take_warm_up()
    finally:
        leave(token)
        cache_store.clear()
    assert first is not None
    assert first.location == "file:///r/7"
    assert second is not None
    assert bulk > 0.001
    assert after == 0.0  # that shard was read already in this flow run


def _same_shard_as(key: str) -> str:
    """Another key of the test's index whose records share ``key``'s shard."""
    shard = cache_store._shard_suffix(json.dumps(key))
    return next(
        other
        for other in (f"key-{i}" for i in range(20_000))
        if other != key and cache_store._shard_suffix(json.dumps(other)) == shard
    )
