"""Columnar batch plans (``taskrun.dask.batch_plan``): packing keeps every child's plan. Pure."""

from __future__ import annotations

import pickle
from typing import Any

from taskrun.dask.batch_plan import BatchPlan
from taskrun.dask.shipping import RunPlan, WireEdge, WireRef

EDGE = WireEdge("numbers", "x", mapped=True)
REDUCE = WireEdge("config", "config")
INPUTS = {"factor": 3}


def plan(
    j: int, pointers: tuple[Any, ...], index: int | None = None, **changes: Any
) -> tuple[Any, ...]:
    fields = RunPlan(
        "old-key",
        None,
        f"double-1f2e3d4c-{10 + j}",
        10 + j,
        ((EDGE, pointers, False, index, False), (REDUCE, (0,), False, None, False)),
        INPUTS,
        {},
        None,
        False,
        None,
        4096,
    )._replace(**changes)
    return tuple(fields)


def comparable(plan_: Any) -> RunPlan:
    """A plan with its edges (compared by identity, and copied by pickling) as text."""
    fields = RunPlan._make(plan_)
    refs = (WireRef._make(ref) for ref in fields.refs)
    return fields._replace(refs=tuple(ref._replace(edge=repr(ref.edge)) for ref in refs))


def unpacked(plans: list[tuple[Any, ...]]) -> list[RunPlan]:
    packed = pickle.loads(pickle.dumps(BatchPlan.pack("batch-key", plans)))
    return [comparable(p) for p in packed]


def expected(plans: list[tuple[Any, ...]]) -> list[RunPlan]:
    return [comparable(p)._replace(key="batch-key", position=j) for j, p in enumerate(plans)]


def test_members_of_an_upstream_batch_pack_as_a_step_and_unpack_unchanged() -> None:
    plans = [plan(j, ((1, 5 + j),)) for j in range(50)]
    packed = BatchPlan.pack("batch-key", plans)
    assert packed.columns[2][0][3] == ("step", 1, 5)
    assert len(pickle.dumps(packed)) < 400
    assert unpacked(plans) == expected(plans)


def test_one_argument_per_child_and_slice_indexes_pack_as_steps() -> None:
    plans = [plan(j, (2 + j,)) for j in range(10)]
    assert unpacked(plans) == expected(plans)
    sliced = [plan(j, (1,), index=j) for j in range(10)]
    assert BatchPlan.pack("k", sliced).columns[2][0][4] == ("step", 0)
    assert unpacked(sliced) == expected(sliced)


def test_irregular_children_keep_one_value_each() -> None:
    plans = [
        plan(j, ((1, 7 * j),), index=j * j, name=f"odd-name-{j}", inputs={"j": j}) for j in range(6)
    ]
    assert unpacked(plans) == expected(plans)


def test_children_with_different_refs_travel_as_plain_plans() -> None:
    plans = [plan(0, (1,)), tuple(RunPlan._make(plan(1, (2,)))._replace(refs=()))]
    assert BatchPlan.pack("k", plans).columns[0] == "plans"
    assert unpacked(plans) == expected(plans)


def test_a_rekeyed_plan_names_the_new_key() -> None:
    packed = BatchPlan.pack("k", [plan(j, ((1, j),)) for j in range(3)]).rekeyed("k-again")
    assert {p.key for p in packed} == {"k-again"}
    assert len(packed) == 3
