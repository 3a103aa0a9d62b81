"""A timeout stops the work: a timed-out body is gone before its attempt ends.

Seen before: ``TimedOut`` was reported on time, but the body carried on in an abandoned
thread with its side effects: in a 20-child map all 20 timed-out bodies ran to the end, up
to 10 at once on a one-thread worker, and with ``max_retries=2`` three attempts of one
task ran at the same time. Now a body with a ``timeout`` runs in a child process that is
killed when the timeout passes (``taskrun.isolated``); its attempt ends only once the
process is gone, so a retry never overlaps it. ``timeout_isolation="thread"`` keeps the
old way, on purpose: reported on time, not stopped.

In-process (``SequentialTaskRunner``) and on a ``LocalCluster(processes=True)``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster

from orchestrator import Flow, context, task, unmapped
from orchestrator.engine.state import State, TimedOut
from orchestrator.task_runners import DaskTaskRunner, SequentialTaskRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RUNNERS = ["sequential", "dask"]
#: mapped children in the map test (each times out after 0.5 s, plus its process start)
CHILDREN = 8


@task(timeout=1)
def sleeps_then_writes(path: str) -> None:
    time.sleep(3)
    with open(path, "a") as side_effect:
        side_effect.write("the body ran on\n")


@task(timeout=1, timeout_isolation="thread")
def sleeps_then_writes_in_a_thread(path: str) -> None:
    time.sleep(2)
    with open(path, "a") as side_effect:
        side_effect.write("the body ran on\n")


def _mark(path: str, text: str) -> None:
    with open(path, "a") as marks:
        marks.write(f"{context.task_run_count} {time.monotonic()} {text}\n")


@task(timeout=1, max_retries=2, retry_delay=dt.timedelta(0))
def ticks_past_its_timeout(path: str) -> None:
    _mark(path, "start")
    for _ in range(30):
        time.sleep(0.1)
        _mark(path, "tick")
    _mark(path, "end")


@task(timeout=0.5)
def child_ticks_past_its_timeout(x: int, path: str) -> None:
    marks = f"{path}-{x}"
    for _ in range(20):
        with open(marks, "a") as handle:
            handle.write(f"{time.monotonic()}\n")
        time.sleep(0.1)


@task(timeout=30, log_stdout=True)
def quick(x: int) -> int:
    print(f"printed {x}")
    context.logger.info("logged %d", x)
    return x + 1


class RecordStates:
    """A state handler writing each new state's name to ``path`` (it runs on workers too)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, task_: Any, old: State, new: State) -> State:
        with open(self.path, "a") as names:
            names.write(f"{new.name}\n")
        return new


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as started:
        yield started


@pytest.fixture(params=RUNNERS)
def runner(request: pytest.FixtureRequest) -> Any:
    if request.param == "sequential":
        return SequentialTaskRunner()
    return DaskTaskRunner(address=request.getfixturevalue("cluster").scheduler_address)


def _run_one(runner: Any, task_: Any, **inputs: Any) -> State:
    with Flow("timeouts") as flow:
        result = task_(**inputs)
    state: State = flow.run(task_runner=runner).result()[result]
    return state


def test_a_timed_out_body_is_stopped_before_its_side_effect(runner: Any, tmp_path: Path) -> None:
    side_effect = tmp_path / "side-effect"
    started = time.monotonic()
    state = _run_one(runner, sleeps_then_writes, path=str(side_effect))
    assert isinstance(state, TimedOut)
    assert "timed out after 1.0 seconds (its process was stopped)" in str(state.message)
    time.sleep(max(0.0, started + 4 - time.monotonic()))  # past the body's 3 s sleep
    assert not side_effect.exists()


def test_a_thread_timeout_is_reported_on_time_but_the_body_runs_on(tmp_path: Path) -> None:
    """The documented opt-out: what ``timeout_isolation="thread"`` promises, and no more."""
    side_effect = tmp_path / "side-effect"
    state = _run_one(SequentialTaskRunner(), sleeps_then_writes_in_a_thread, path=str(side_effect))
    assert isinstance(state, TimedOut)
    assert "timeout_isolation='thread' cannot stop it" in str(state.message)
    deadline = time.monotonic() + 10
    while not side_effect.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert side_effect.read_text() == "the body ran on\n"


def test_attempts_of_a_timed_out_task_never_overlap(runner: Any, tmp_path: Path) -> None:
    marks, names = tmp_path / "marks", tmp_path / "states"
    recorded = ticks_past_its_timeout.copy(state_handlers=[RecordStates(str(names))])
    state = _run_one(runner, recorded, path=str(marks))
    assert isinstance(state, TimedOut)
    assert names.read_text().split() == [
        "Running", "TimedOut", "Retrying",
        "Running", "TimedOut", "Retrying",
        "Running", "TimedOut",
    ]  # fmt: skip
    written = marks.read_text()
    time.sleep(0.5)  # a body left running would tick on
    assert marks.read_text() == written
    intervals = _intervals(written)
    assert sorted(intervals) == [1, 2, 3]
    assert all(kind != "end" for kind in _kinds(written)), "a body ran to its end"
    spans = [intervals[attempt] for attempt in (1, 2, 3)]
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert first_end < second_start, spans


def test_timed_out_children_of_a_map_run_one_at_a_time_on_a_one_thread_worker(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """Seen before: up to 10 abandoned bodies at once on one thread; now one, then gone."""
    with Flow("timed-out-map") as flow:
        children = child_ticks_past_its_timeout.map(
            x=list(range(CHILDREN)), path=unmapped(str(tmp_path / "marks"))
        )
    state = flow.run(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
    assert all(isinstance(child, TimedOut) for child in state.result()[children].map_states)
    spans = sorted(_span(tmp_path / f"marks-{x}") for x in range(CHILDREN))
    time.sleep(0.5)  # a body left running would tick on
    assert sorted(_span(tmp_path / f"marks-{x}") for x in range(CHILDREN)) == spans
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert first_end < second_start, spans


def _span(path: Path) -> tuple[float, float]:
    times = [float(line) for line in path.read_text().split()]
    return times[0], times[-1]


def _intervals(marks: str) -> dict[int, tuple[float, float]]:
    """Per attempt, its first and last mark's time."""
    found: dict[int, tuple[float, float]] = {}
    for line in marks.splitlines():
        attempt, at, _ = line.split()
        first, _last = found.get(int(attempt), (float(at), float(at)))
        found[int(attempt)] = (first, float(at))
    return found


def _kinds(marks: str) -> list[str]:
    return [line.split()[2] for line in marks.splitlines()]


def test_a_fast_body_with_a_timeout_returns_its_value_and_logs(
    runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrator")
    state = _run_one(runner, quick, x=41)
    assert state.is_successful(), state.message
    assert state.result() == 42
    messages = [r.getMessage() for r in caplog.records if r.name == "orchestrator.Task: quick"]
    assert "printed 41" in messages
    assert "logged 41" in messages
