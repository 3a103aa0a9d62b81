"""Fixtures for the unit tests.

Behaviour tests that must hold on every task runner live in ``tests/contract`` (its
``task_runner`` fixture); ``record`` comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _config_from_isolated_file() -> Iterator[None]:
    """Re-read the config layer after the root conftest pointed $ORCHESTRATOR_CONFIG at a
    missing file: the layer is read at import time, before any fixture runs, so without
    this a developer's ~/.orchestrator/config.toml would leak into the tests."""
    from taskrun.context import reload_config

    reload_config()
    yield
    reload_config()
