"""Shared fixtures. Cluster fixtures start only what a test asks for and close it after.

- ``inproc_address``: one ``LocalCluster(processes=False)`` for the whole session, shared
  by the contract suite's Dask runner and the integration tests;
- ``record``: a ``Recorder`` that task bodies on every runner write to (``shared_objects``);
- ``config_file``: the config file ``$ORCHESTRATOR_CONFIG`` names, for tests that write one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_objects import Recorder

from taskrun.context import reload_config


@pytest.fixture(autouse=True)
def _isolated_config(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Tests never read the developer's ~/.orchestrator/config.toml (it was read at import),
    and never write the developer's run journal (``$ORCHESTRATOR_HOME/runs.db``)."""
    monkeypatch.setenv("ORCHESTRATOR_CONFIG", str(tmp_path / "absent-config.toml"))
    # beside tmp_path, not in it: tests list what they wrote there
    home = tmp_path_factory.mktemp("orchestrator-home")
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(home))
    reload_config()
    yield
    monkeypatch.undo()
    reload_config()


@pytest.fixture(scope="session")
def inproc_address() -> Iterator[str]:
    """A scheduler whose two workers live in this process (2 threads each); no dashboard
    (no test reads it, and bokeh's start-up is half a second)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def record() -> Recorder:
    """Call ``record(event)`` from task bodies; read ``record.events`` afterwards."""
    return Recorder()


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config file named by $ORCHESTRATOR_CONFIG; the config layer is restored afterwards."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ORCHESTRATOR_CONFIG", str(path))
    yield path
    monkeypatch.undo()
    reload_config()
