"""Smoke test of the persistence benchmark at tiny N: every side runs and its total is
checked (the benchmark raises on a wrong one). Nothing about timings is asserted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from benchmarks import persistence


@pytest.mark.timeout(120)
def test_the_persistence_benchmark_runs_every_side(tmp_path: Path, capsys) -> None:
    out = tmp_path / "persistence.json"
    levels = {name: logging.getLogger(name).level for name in ("orchestrator", "taskrun")}
    assert persistence.main(["--n", "20", "--reps", "1", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["n"] == 20
    # sequential runner: no raw Dask side; the index pair runs because the runner is in-process
    assert set(row["seconds"]) == {"off", "on", "target", "cached", "index", "index-cached"}
    assert all(seconds > 0 for seconds in row["seconds"].values())
    assert "target/cached" in capsys.readouterr().out
    # quiet while measuring, put back after: tests run later in this process see INFO lines
    assert {name: logging.getLogger(name).level for name in levels} == levels
