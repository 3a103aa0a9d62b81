"""docs/migrating-from-prefect-1.md stays true: every import path it lists imports.

The page's "Import paths" bullet names modules and the names a Prefect 1 user imports from
them; this test reads the page itself, so a renamed module or a dropped name fails here.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-prefect-1.md"


def _import_bullet() -> str:
    text = DOC.read_text()
    start = text.index("- **Import paths.**")
    end = text.index("\n- **", start + 1)
    return text[start:end]


def _module_paths() -> list[str]:
    """Every backticked dotted path in the bullet, with a slash group expanded
    (``orchestrator.core.task/flow`` -> ``orchestrator.core.task``, ``orchestrator.core.flow``)."""
    paths: list[str] = []
    for spelled in re.findall(r"`(orchestrator[\w./]*)`", _import_bullet()):
        head, _, tail = spelled.rpartition(".")
        paths.extend(f"{head}.{part}" if head else part for part in tail.split("/"))
    return paths


def _names_after(module: str) -> list[str]:
    """The names in the parentheses right after ``module``'s mention, if any."""
    match = re.search(re.escape(f"`{module}`") + r" \(([^)]*)\)", _import_bullet())
    if match is None:
        return []
    return re.findall(r"`(\w+)`", match.group(1))


def test_the_page_lists_import_paths() -> None:
    assert len(_module_paths()) >= 12


@pytest.mark.parametrize("path", _module_paths())
def test_every_listed_import_path_imports(path: str) -> None:
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError:  # a name on a package: orchestrator.task
        package, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(package), name), path
        return
    for name in _names_after(path):
        if not hasattr(module, name):  # a submodule: orchestrator.engine (`results`)
            importlib.import_module(f"{path}.{name}")
