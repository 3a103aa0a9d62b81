"""A ``@flow`` run logs each task run's final state as the run finishes, not at the end.

The task runner tells the flow run of finished runs (``BaseTaskRunner.watch``); a runner
that cannot is polled. Either way each line is logged exactly once, and the flow run
stops listening when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orchestrator import flow, task
from orchestrator.task_runners import ConcurrentTaskRunner


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def finished(self, name: str) -> list[str]:
        return [line for line in self.lines if line.startswith(f"Task run {name!r} finished")]


@pytest.fixture
def task_lines() -> Iterator[_Lines]:
    logger = logging.getLogger("orchestrator.task_runs")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class RecordingRunner(ConcurrentTaskRunner):
    """Thread-pool runner noting when a listener is added and removed (copies share the list)."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers)
        self.events: list[str] = []

    def watch(self, listener: Callable[[Any], None]) -> Callable[[], None] | None:
        stop = super().watch(listener)
        self.events.append("watch")

        def unwatch() -> None:
            self.events.append("unwatch")
            assert stop is not None
            stop()

        return unwatch


class PolledRunner(ConcurrentTaskRunner):
    """A runner that cannot tell of finished runs: the flow run must poll it."""

    def watch(self, listener: Callable[[Any], None]) -> Callable[[], None] | None:
        return None


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def fail() -> None:
    raise ValueError("boom")


def _wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.parametrize("runner_class", [RecordingRunner, PolledRunner])
def test_final_state_is_logged_while_the_body_still_runs(runner_class, task_lines):
    @flow(task_runner=runner_class(max_workers=2))
    def body() -> tuple[bool, bool, int]:
        ok, bad = add(1, 2), fail()
        # nobody asks the futures: only the watcher can log their final states
        seen_ok = _wait_for(lambda: bool(task_lines.finished(ok.name)))
        seen_bad = _wait_for(lambda: bool(task_lines.finished(bad.name)))
        return seen_ok, seen_bad, ok.result()

    run = body.submit()
    assert run.result(timeout=30, raise_on_failure=False) == (True, True, 3)
    ok_name, bad_name = (f.name for f in run.futures)
    assert len(task_lines.finished(ok_name)) == 1, task_lines.lines
    assert task_lines.finished(ok_name)[0].endswith(
        "finished in state Completed(message=None, type=COMPLETED)"
    )
    assert len(task_lines.finished(bad_name)) == 1, task_lines.lines
    assert "Failed" in task_lines.finished(bad_name)[0]


def test_the_flow_run_stops_listening_when_it_ends():
    runner = RecordingRunner(max_workers=2)

    @flow(task_runner=runner, journal=False)  # the run journal listens too, when on
    def body() -> int:
        return add(1, 2).result()

    assert body().result() == 3
    assert body().result() == 3
    assert runner.events == ["watch", "unwatch", "watch", "unwatch"]
    journalled = body.with_options(journal=True)
    assert journalled().result() == 3
    assert runner.events[4:] == ["watch", "watch", "unwatch", "unwatch"]


def test_many_runs_finishing_at_once_are_each_logged_once(task_lines):
    release = threading.Event()

    @task
    def gated(i: int) -> int:
        release.wait(10)
        return i

    @flow(task_runner=RecordingRunner(max_workers=4))
    def body() -> list[int]:
        futures = gated.map(list(range(40)))
        release.set()
        assert _wait_for(lambda: sum(len(task_lines.finished(f.name)) for f in futures) == 40)
        return [f.result() for f in futures]

    run = body.submit()
    assert run.result(timeout=30) == list(range(40))
    assert len(run.futures) == 40
    assert all(len(task_lines.finished(f.name)) == 1 for f in run.futures), task_lines.lines
