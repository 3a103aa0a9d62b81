"""Cache validators (Prefect 1's set), cache entries persisted as digests, lineage keys."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from orchestrator.engine import cache_validators
from orchestrator.engine.cache_validators import (
    all_inputs,
    all_parameters,
    duration_only,
    never_use,
    partial_inputs_only,
    partial_parameters_only,
)
from orchestrator.results import Result
from taskrun import cache_store
from taskrun.cache_store import CacheEntry
from taskrun.lineage import Digest, lineage_key
from taskrun.results.stored import StoredResult
from taskrun.states import Success

LATER = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
EARLIER = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
_prefixes = itertools.count()


def entry(inputs=None, parameters=None, expires=LATER) -> CacheEntry:
    return CacheEntry(42, inputs or {}, parameters or {}, expires)


ALL_VALIDATORS = [
    duration_only,
    all_inputs,
    all_parameters,
    partial_inputs_only(["x"]),
    partial_parameters_only(["day"]),
]


@pytest.mark.parametrize("validator", ALL_VALIDATORS, ids=lambda v: v.__name__)
def test_every_validator_refuses_an_expired_entry(validator):
    assert validator(entry(expires=EARLIER), {}, {}) is False
    assert validator(entry(expires=LATER), {}, {}) is True


def test_never_use_refuses_even_a_fresh_entry():
    assert never_use(entry(), {}, {}) is False


def test_duration_only_ignores_inputs_and_an_entry_without_expiration_never_expires():
    assert duration_only(entry({"x": 1}), {"x": 2}, {"p": 3})
    assert duration_only(entry(expires=None), {}, {})


def test_duration_only_reads_a_naive_expiration_as_utc():
    naive = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)).replace(tzinfo=None)
    assert not duration_only(entry(expires=naive), {}, {})


def test_all_inputs_needs_every_input_equal_and_no_extra_one():
    cached = entry({"x": 1, "y": [1, 2]})
    assert all_inputs(cached, {"x": 1, "y": [1, 2]}, {})
    assert not all_inputs(cached, {"x": 1, "y": [1, 3]}, {})
    assert not all_inputs(cached, {"x": 1}, {})
    assert not all_inputs(cached, {"x": 1, "y": [1, 2], "z": 0}, {})


def test_all_parameters_compares_the_flow_run_parameters():
    cached = entry(parameters={"day": "mon", "n": 2})
    assert all_parameters(cached, {"anything": 1}, {"day": "mon", "n": 2})
    assert not all_parameters(cached, {}, {"day": "tue", "n": 2})


def test_partial_inputs_only_compares_only_the_named_inputs():
    validator = partial_inputs_only(["x"])
    assert validator.__name__ == "partial_inputs_only(['x'])"
    assert validator(entry({"x": 1, "y": 2}), {"x": 1, "y": 99}, {})
    assert not validator(entry({"x": 1, "y": 2}), {"x": 5, "y": 2}, {})


def test_partial_parameters_only_compares_only_the_named_parameters():
    validator = partial_parameters_only(["day"])
    assert validator(entry(parameters={"day": "mon", "n": 1}), {}, {"day": "mon", "n": 7})
    assert not validator(entry(parameters={"day": "mon"}), {}, {"day": "tue"})


def test_partial_validators_without_names_compare_everything():
    assert not partial_inputs_only()(entry({"x": 1}), {"x": 2}, {})
    assert partial_parameters_only(None)(entry(parameters={"a": 1}), {}, {"a": 1})


def test_values_that_cannot_be_compared_count_as_different():
    cached = entry({"a": np.arange(3)})
    assert not all_inputs(cached, {"a": np.arange(3)}, {})


def test_the_public_module_offers_prefect_1s_six_validators():
    names = {"never_use", "duration_only", "all_inputs", "all_parameters"}
    names |= {"partial_inputs_only", "partial_parameters_only"}
    assert names <= set(vars(cache_validators))


# ---- persisted entries ---------------------------------------------------------------------------
def test_a_digest_equals_exactly_the_values_that_hash_the_same():
    digest = Digest(cache_store._digests({"x": [1, 2]})["x"])
    assert digest == [1, 2]
    assert digest != [1, 3]


def test_an_index_entry_reads_back_with_digests_the_validators_accept():
    result = Result(f"memory://cache-index-{next(_prefixes)}")
    where = result.write("value", "v.pkl")
    written = CacheEntry(
        StoredResult(result, where, "value"), {"x": 1}, {"day": "mon"}, LATER, where
    )
    cache_store.write_index(result, "key-1", written)
    read = cache_store.read_index(result, "key-1")
    assert read is not None
    assert read.location == where
    assert all_inputs(read, {"x": 1}, {})
    assert not all_inputs(read, {"x": 2}, {})
    assert all_parameters(read, {}, {"day": "mon"})
    assert read.value.load() == "value"
    assert cache_store.read_index(result, "another-key") is None


def test_the_in_process_cache_keeps_the_newest_entries_first():
    cache_store.clear()
    first, second = entry({"n": 1}), entry({"n": 2})
    cache_store.remember("k", first)
    cache_store.remember("k", second)
    assert cache_store.entries("k") == [second, first]
    cache_store.clear()
    assert cache_store.entries("k") == []


# ---- lineage keys -------------------------------------------------------------------------------
class _Edge:
    def __init__(self, key: str) -> None:
        self.key = key


def _body(x: int) -> int:
    return x + 1


class _Task:
    name = "t"

    def __init__(self, fn=_body) -> None:
        self.run = fn


def test_a_lineage_key_changes_with_constants_parameters_map_index_and_code():
    task = _Task()
    base = lineage_key(task, 0, {"x": 1}, {}, {"day": "mon"})
    assert base == lineage_key(_Task(), 0, {"x": 1}, {}, {"day": "mon"})
    assert base != lineage_key(task, 0, {"x": 2}, {}, {"day": "mon"})
    assert base != lineage_key(task, 0, {"x": 1}, {}, {"day": "tue"})
    assert base != lineage_key(task, 1, {"x": 1}, {}, {"day": "mon"})
    assert base != lineage_key(_Task(lambda x: x * 2), 0, {"x": 1}, {}, {"day": "mon"})


def test_a_stored_upstream_contributes_its_key_without_its_data_being_hashed():
    class Unhashable:
        def __reduce__(self):
            raise AssertionError("the upstream data was hashed")

    result = Result("memory://lineage")
    stored = StoredResult(result, "memory://lineage/u", Unhashable(), key="upstream-key")
    upstream = {_Edge("x"): Success("ok", stored)}
    key = lineage_key(_Task(), None, {}, upstream, {})
    other = {_Edge("x"): Success("ok", StoredResult(result, "memory://l/v", 0, key="other"))}
    assert key != lineage_key(_Task(), None, {}, other, {})
