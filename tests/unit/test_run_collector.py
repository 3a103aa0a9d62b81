"""The collector during flow runs: survivors frozen and handed back, young collections rarer.

Real collections of this interpreter (``gc.collect()`` is a full one); the freeze count and
weak references say what the collector may walk and what it freed.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator import Flow, flow, task
from taskrun import run_collector
from taskrun.run_collector import survivors_frozen, young_collections_rare


@pytest.fixture(autouse=True)
def _clean_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No run active: flow runs of earlier tests may still be running in background threads
    of this process (abandoned notebook-style runs), so their count and hook are set aside."""
    hooked = run_collector._after_collection in gc.callbacks
    if hooked:
        gc.callbacks.remove(run_collector._after_collection)
    monkeypatch.setattr(run_collector, "_active_runs", 0)
    monkeypatch.setattr(run_collector, "_hooked", False)
    monkeypatch.setattr(run_collector, "_saved_thresholds", None)
    monkeypatch.setattr(run_collector, "_young_users", 0)
    thresholds = gc.get_threshold()
    gc.set_threshold(*PYTHONS)
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    assert run_collector._after_collection not in gc.callbacks
    if hooked:
        gc.callbacks.append(run_collector._after_collection)


#: Python's own collection thresholds
PYTHONS = (700, 10, 10)


class _Node:
    """A tracked object that can sit in a cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_a_full_collection_in_a_run_freezes_its_survivors_and_the_end_hands_them_back() -> None:
    with survivors_frozen():
        gc.collect()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_among_frozen_objects_is_freed_once_the_run_ends() -> None:
    with survivors_frozen():
        kept = _Node()
        kept.other = _Node()
        kept.other.other = kept
        probe = weakref.ref(kept)
        gc.collect()  # survives: frozen
        del kept
        gc.collect()
        assert probe() is not None  # frozen objects are not walked
    gc.collect()
    assert probe() is None


def test_young_garbage_is_still_collected_during_a_run() -> None:
    with survivors_frozen():
        gc.collect()
        probe = _cycle()  # made after the freeze, garbage at once
        gc.collect()
        assert probe() is None


def _frozen_dead_cycle() -> weakref.ref[_Node]:
    """A cycle that survives a full collection (so it is frozen), then loses its last name."""
    kept = _Node()
    kept.other = _Node()
    kept.other.other = kept
    gc.collect()
    assert gc.get_freeze_count() > 0
    return weakref.ref(kept)


def test_the_frozen_set_is_thawed_for_a_full_walk_when_it_doubles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_collector, "THAW_FLOOR", 2)
    with survivors_frozen():
        probe = _frozen_dead_cycle()
        gc.collect()  # frozen: not walked; over twice the floor, so thawed after it
        assert probe() is not None
        assert gc.get_freeze_count() == 0
        gc.collect()  # walks everything
        assert probe() is None
        assert gc.get_freeze_count() > 0  # and freezes again


def test_the_frozen_set_is_thawed_for_a_full_walk_when_it_has_waited_long_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with survivors_frozen():
        probe = _frozen_dead_cycle()
        gc.collect()
        assert probe() is not None  # the floor is far: it stays frozen
        monkeypatch.setattr(run_collector, "THAW_SECONDS", 0.0)
        gc.collect()  # the clock says thaw, after this collection
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert probe() is None


def test_overlapping_runs_keep_freezing_until_the_last_one_ends() -> None:
    outer = survivors_frozen()
    outer.__enter__()
    try:
        with survivors_frozen():
            gc.collect()
        assert run_collector._after_collection in gc.callbacks
        assert gc.get_freeze_count() > 0
    finally:
        outer.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_is_left_alone() -> None:
    gc.freeze()
    own = gc.get_freeze_count()
    with survivors_frozen():
        assert run_collector._after_collection not in gc.callbacks
        gc.collect()
    assert gc.get_freeze_count() > own // 2  # its freeze stays (less what refcounting freed)


def test_the_switch_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(run_collector.ENV_SWITCH, "0")
    with survivors_frozen():
        gc.collect()
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == PYTHONS


def test_the_youngest_generation_is_collected_less_often_while_runs_are_active() -> None:
    outer = survivors_frozen()
    outer.__enter__()
    try:
        with survivors_frozen():
            assert gc.get_threshold() == (run_collector.YOUNG_THRESHOLD, 10, 10)
        assert gc.get_threshold()[0] == run_collector.YOUNG_THRESHOLD  # one still runs
    finally:
        outer.__exit__(None, None, None)
    assert gc.get_threshold() == PYTHONS


def test_worker_batches_and_runs_share_the_raised_threshold() -> None:
    with young_collections_rare():
        assert gc.get_threshold()[0] == run_collector.YOUNG_THRESHOLD
        with survivors_frozen():
            pass
        assert gc.get_threshold()[0] == run_collector.YOUNG_THRESHOLD  # the batch still runs
        assert gc.get_freeze_count() == 0  # batches on workers freeze nothing
    assert gc.get_threshold() == PYTHONS


def test_thresholds_a_process_chose_are_kept() -> None:
    gc.set_threshold(100_000, 20, 20)  # raised by the process itself: left as it is
    with survivors_frozen():
        assert gc.get_threshold() == (100_000, 20, 20)
    assert gc.get_threshold() == (100_000, 20, 20)
    gc.set_threshold(*PYTHONS)
    with survivors_frozen():
        gc.set_threshold(5_000, 10, 10)  # changed during the run: not undone
    assert gc.get_threshold() == (5_000, 10, 10)


@task
def frozen_count_after_full_collection() -> int:
    gc.collect()
    frozen: int = gc.get_freeze_count()
    return frozen


def test_dag_and_flow_function_runs_freeze_survivors_only_while_they_run() -> None:
    with Flow("frozen-dag") as dag:
        counted = frozen_count_after_full_collection()
    state = dag.run()
    assert gc.get_threshold() == PYTHONS
    assert state.is_successful()
    assert state.result()[counted].result() > 0
    assert gc.get_freeze_count() == 0

    @flow
    def frozen_function() -> Any:  # the future of the count
        return frozen_count_after_full_collection()

    assert frozen_function().result() > 0  # a @flow returning a future gives its state
    assert gc.get_freeze_count() == 0
