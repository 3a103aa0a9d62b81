"""Batch sizing for mapped children on Dask (``orchestrator.task_runners.dask.batching``): pure."""

from __future__ import annotations

import pytest

from orchestrator.task_runners.dask.batching import (
    LONG_CHILD_SECONDS,
    MIN_BATCHES_PER_THREAD,
    TARGET_BATCH_SECONDS,
    BatchDecision,
    DurationEstimates,
    batch_size_for,
    decide,
    estimate_from_probe,
    median_seconds,
    split,
)


def test_a_task_batch_size_wins_over_measurements() -> None:
    assert decide(1000, threads=4, batch_size=1, seconds_per_child=1e-6) == BatchDecision(0, 1)
    assert decide(1000, threads=4, batch_size=50, seconds_per_child=None) == BatchDecision(0, 50)


def test_few_children_run_one_per_dask_task() -> None:
    assert decide(8, threads=4, batch_size=None, seconds_per_child=None) == BatchDecision(0, 1)


def test_unknown_durations_ask_for_a_probe_of_one_child_per_thread() -> None:
    assert decide(100, threads=3, batch_size=None, seconds_per_child=None) == BatchDecision(3, None)


def test_short_children_fill_batches_of_the_target_duration() -> None:
    size = batch_size_for(1_000_000, threads=2, seconds_per_child=1e-4)
    assert size == int(TARGET_BATCH_SECONDS / 1e-4)


def test_batches_stay_numerous_enough_to_spread_over_every_thread() -> None:
    size = batch_size_for(1000, threads=2, seconds_per_child=1e-7)
    assert size == 1000 // (MIN_BATCHES_PER_THREAD * 2)


@pytest.mark.parametrize("seconds", [0.5, 2.0, 60.0])
def test_long_children_get_batches_of_one(seconds: float) -> None:
    assert batch_size_for(16, threads=2, seconds_per_child=seconds) == 1


def test_a_probe_estimates_from_finished_children_first() -> None:
    assert estimate_from_probe([0.1, 0.3], [5.0]) == pytest.approx(0.2)


def test_a_probe_child_running_long_already_tells_children_are_long() -> None:
    assert estimate_from_probe([], [LONG_CHILD_SECONDS + 0.1]) == LONG_CHILD_SECONDS + 0.1
    assert estimate_from_probe([], [LONG_CHILD_SECONDS / 2]) is None
    assert estimate_from_probe([], []) is None


def test_split_covers_the_range_in_order_and_cuts_at_boundaries() -> None:
    assert split(2, 12, 4) == [(2, 6), (6, 10), (10, 12)]
    assert split(0, 10, 4, boundaries=[5, 7]) == [(0, 4), (4, 5), (5, 7), (7, 10)]
    assert split(0, 0, 4) == []


def test_duration_estimates_average_per_child_and_smooth_new_measurements() -> None:
    estimates = DurationEstimates()
    assert estimates.get("task") is None
    estimates.add("task", 2.0, children=4)
    assert estimates.get("task") == pytest.approx(0.5)
    estimates.add("task", 1.5)
    assert 0.5 < estimates.get("task") < 1.5  # type: ignore[operator]
    estimates.add("task", 1.0, children=0)
    assert estimates.get("other") is None


def test_a_calibration_round_is_read_by_its_median_so_a_cold_child_does_not_skew_it() -> None:
    assert median_seconds([0.02, 3e-5, 4e-5, 5e-5, 0.02]) == 5e-5
    assert median_seconds([]) is None
