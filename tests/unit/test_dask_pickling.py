"""Shipping tasks to Dask: what cannot pickle is named (``dask_pickling``); no cluster."""

from __future__ import annotations

import threading

import pytest

from orchestrator import task
from orchestrator.task_runners.dask.pickling import UnpicklableError, check_value, dumps_task
from taskrun.dask.shipping import Shipped, TaskLabel, WireEdge, cut, source_states, wire_edge

LOCK = threading.Lock()


@task
def uses_global_lock(x: int) -> int:
    with LOCK:
        return x


def test_a_task_referring_to_an_unpicklable_global_is_named_with_the_global() -> None:
    with pytest.raises(
        UnpicklableError,
        match=r"Task 'uses_global_lock' cannot be sent.*"
        r"global 'LOCK' \(a lock\)",
    ):
        dumps_task(uses_global_lock)


def test_a_closure_variable_is_named() -> None:
    local_lock = threading.Lock()

    @task
    def closes_over(x: int) -> int:
        with local_lock:
            return x

    with pytest.raises(UnpicklableError, match="closure variable 'local_lock'"):
        dumps_task(closes_over)


def test_an_unpicklable_item_of_an_argument_is_named_by_its_path() -> None:
    with pytest.raises(UnpicklableError, match=r"argument 'rows'\['first'\]\[1\] \(a lock\)"):
        check_value("load", "argument 'rows'", {"first": [1, LOCK]})


@task
def plain(x: int) -> int:
    return x


def test_a_picklable_task_ships_and_loads_once_per_process() -> None:
    shipped = Shipped("token-for-test", dumps_task(plain.copy(name="other")))
    first, second = shipped.load(), shipped.load()
    assert first is second
    assert first.name == "other"


def test_edges_travel_as_labels_with_the_upstream_name() -> None:
    class Upstream:
        name, slug = "load", "load-1234"

    class Edge:
        upstream_task, key, mapped, flattened = Upstream(), "rows", True, False

    wired = wire_edge(Edge())
    assert isinstance(wired.upstream_task, TaskLabel)
    assert (wired.upstream_task.name, wired.key, wired.mapped) == ("load", "rows", True)
    assert repr(wire_edge(WireEdge("add-00000000-1", None))) == "<Edge: add-00000000-1 ->>"


def test_pointers_pick_states_from_arguments_and_batches() -> None:
    ref = (None, (0, (1, 2), (1, 0, 2)), True, None, False)
    from taskrun.dask.shipping import WireRef

    assert source_states(WireRef._make(ref), ["a", ["b0", "b1", "b2"]]) == ["a", "b2", "b0", "b1"]


def test_cut_slices_plain_and_flattened_results() -> None:
    assert cut([0, 1, 2, 3], 1, 3) == [1, 2]
    assert cut([[0, 1], [2], [3, 4, 5]], 1, 5, flattened=True) == [1, 2, 3, 4]
    assert cut([[0, 1], [2]], 2, 10, flattened=True) == [2]
