"""A malformed config file warns once and is ignored: imports, ``--help`` and workers still start.

The ``[context]`` table of ``$ORCHESTRATOR_CONFIG`` is read when ``taskrun.context`` is
imported, so a broken file used to break ``import orchestrator``, every command and every
``python -m workers``. Now the import logs one warning naming the file and the problem,
and the config layer is empty (as for a missing file); ``reload_config()``, an explicit
request, still raises (``test_context.py``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults.processes import Processes, wait_for_workers, worker_env

from taskrun.context import _load_config_at_import

BROKEN: dict[str, tuple[str | bytes, str]] = {
    "toml": ("[context\nteam = 'data'\n", "TOMLDecodeError: Expected ']'"),
    "not-a-table": ("context = 3\n", "[context] must be a table, got 3"),
    "not-utf8": (b"\xff\xfe[context]\n", "UnicodeDecodeError"),
}


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_config_file_gives_an_empty_layer_and_one_warning_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    content, problem = BROKEN[kind]
    path = write(tmp_path / "config.toml", content)
    # undone inside the test: the fixtures' teardown reloads the config from the variable
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, "taskrun.context"):
        patch.setenv("ORCHESTRATOR_CONFIG", str(path))
        assert dict(_load_config_at_import()) == {}
    (record,) = caplog.records
    message = record.getMessage()
    assert str(path) in message
    assert problem in message
    assert "\n" not in message


def test_a_config_file_that_is_a_directory_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, "taskrun.context"):
        patch.setenv("ORCHESTRATOR_CONFIG", str(tmp_path))
        assert dict(_load_config_at_import()) == {}
    assert "IsADirectoryError" in caplog.records[0].getMessage()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Child processes of one test, all killed at its end."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def _run(code_or_args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *code_or_args],
        env=worker_env({"ORCHESTRATOR_CONFIG": str(config)}),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_import_orchestrator_works_and_warns_once(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", BROKEN["toml"][0])
    done = _run(["-c", "import orchestrator; print(orchestrator.context.to_dict())"], config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{}"
    (line,) = done.stderr.strip().splitlines()
    assert str(config) in line
    assert "Expected ']'" in line


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_orchestrator_help_works_with_a_broken_config_file(tmp_path: Path) -> None:
    config = write(tmp_path / "config.toml", BROKEN["toml"][0])
    done = _run(["-m", "orchestrator.cli", "--help"], config)
    assert done.returncode == 0, done.stderr
    assert "usage: orchestrator" in done.stdout
    assert len(done.stderr.strip().splitlines()) == 1
    assert str(config) in done.stderr


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_worker_starts_with_a_broken_config_file_and_reports_it(
    processes: Processes, tmp_path: Path
) -> None:
    config = write(tmp_path / "config.toml", BROKEN["toml"][0])
    scheduler = processes.scheduler()
    worker = processes.worker(
        scheduler.address,
        "--no-nanny",
        "--nthreads",
        "1",
        env=worker_env({"ORCHESTRATOR_CONFIG": str(config)}),
    )
    wait_for_workers(scheduler.address, 1)
    assert worker.is_alive()
    warnings = [line for line in worker.output().splitlines() if str(config) in line]
    assert len(warnings) == 1, worker.output()
    assert "Ignoring the orchestrator config file" in warnings[0]
