"""The ``task_runner`` fixture: every contract test runs once per task runner.

- ``sequential``: ``SequentialTaskRunner``, the default;
- ``concurrent``: ``ConcurrentTaskRunner(max_workers=4)``, a thread pool;
- ``dask``: ``DaskTaskRunner`` connected to the session's in-process
  ``LocalCluster(processes=False)`` (``inproc_address`` in ``tests/conftest.py``), started
  only when the first Dask case runs and marked ``integration``.

Task bodies that must report back to the test write to ``record`` or wait on ``release``
(``shared_objects``): those pickle by reference, so a Dask worker's copy is the test's
object. Task runs on Dask are cloudpickled even in-process, so a plain list closed over
by a body would come back unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from shared_objects import SharedEvent

from orchestrator.task_runners import (
    BaseTaskRunner,
    ConcurrentTaskRunner,
    DaskTaskRunner,
    SequentialTaskRunner,
)

RUNNERS = ["sequential", "concurrent", pytest.param("dask", marks=pytest.mark.integration)]


@pytest.fixture(params=RUNNERS)
def task_runner(request: pytest.FixtureRequest) -> BaseTaskRunner[Any]:
    """A fresh task runner; flow runs start and shut it down themselves."""
    if request.param == "sequential":
        return SequentialTaskRunner()
    if request.param == "concurrent":
        return ConcurrentTaskRunner(max_workers=4)
    dask: BaseTaskRunner[Any] = DaskTaskRunner(address=request.getfixturevalue("inproc_address"))
    return dask


@pytest.fixture
def release() -> SharedEvent:
    """An event task bodies wait on (``release.wait(10)``) until the test sets it."""
    return SharedEvent()
