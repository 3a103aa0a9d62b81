"""Fixtures for the unit tests: the in-process task runners and small helpers.

Behaviour tests that run flows take the ``task_runner`` fixture, so every case runs
on both in-process runners (the sequential default and the thread pool).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from orchestrator.task_runners import ConcurrentTaskRunner, SequentialTaskRunner


@pytest.fixture(params=["sequential", "concurrent"])
def task_runner(request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh in-process task runner; flow runs start and shut it down themselves."""
    if request.param == "sequential":
        yield SequentialTaskRunner()
    else:
        yield ConcurrentTaskRunner(max_workers=4)


class Recorder:
    """A thread-safe list of events, for tests that count or order task bodies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[object] = []

    def __call__(self, event: object) -> None:
        with self._lock:
            self.events.append(event)

    def count(self, event: object) -> int:
        with self._lock:
            return self.events.count(event)


@pytest.fixture
def record() -> Recorder:
    """Call ``record(event)`` from task bodies; read ``record.events`` afterwards."""
    return Recorder()


@pytest.fixture(autouse=True)
def _config_from_isolated_file() -> Iterator[None]:
    """Re-read the config layer after the root conftest pointed $ORCHESTRATOR_CONFIG at a
    missing file: the layer is read at import time, before any fixture runs, so without
    this a developer's ~/.orchestrator/config.toml would leak into the tests."""
    from taskrun.context import reload_config

    reload_config()
    yield
    reload_config()
