"""Fixtures for the fault tests: a ``Processes`` per test, or per module, always cleaned up.

Every child a test starts through these fixtures is killed (its whole process group) when
the fixture ends, whether the test passed, failed or timed out in a fixture's teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import Processes


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Child processes of one test."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture(scope="module")
def module_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """Child processes shared by one module's tests (a scheduler they all use, say)."""
    started = Processes(tmp_path_factory.mktemp("processes"))
    try:
        yield started
    finally:
        started.stop_all()
