"""Shared fixtures. Cluster fixtures start only what a test asks for and close it after."""

from __future__ import annotations

import pytest

from taskrun.context import reload_config


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path, monkeypatch):
    """Tests never read the developer's ~/.orchestrator/config.toml (it was read at import)."""
    monkeypatch.setenv("ORCHESTRATOR_CONFIG", str(tmp_path / "absent-config.toml"))
    reload_config()
    yield
    monkeypatch.undo()
    reload_config()
