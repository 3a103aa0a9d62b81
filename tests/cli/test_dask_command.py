"""``orchestrator run`` on Dask: an embedded LocalCluster and a running scheduler's address."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import flow_dir_fixture, run_cli_fixture  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
try:
    from orchestrator.task_runners import DaskTaskRunner  # noqa: F401 - only checks it exists
except ImportError as error:
    pytest.skip(f"DaskTaskRunner is not available yet (issue 3): {error}", allow_module_level=True)
Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def scheduler_address() -> Iterator[str]:
    """A LocalCluster the command connects to; its worker is a process of its own, so the
    command's worker plugin (which sets log levels) never touches this test process."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def summary_rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("Task "))
    return [re.split(r"\s{2,}", line)[:3] for line in lines[head + 1 : -1]]


def test_run_on_an_embedded_local_cluster(flow_dir: Path, run_cli: Cli) -> None:
    done = run_cli(
        "run",
        str(flow_dir / "squares.py"),
        "--local-cluster",
        "--workers",
        "1",
        "--param",
        "count=3",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(r"^Flow run '[a-z]+-[a-z]+' of flow 'numbers' on DaskTaskRunner", lines[0])
    assert re.match(r"^Dashboard: http://\S+/status$", lines[1])
    assert summary_rows(done.stdout) == [
        ["count", "Success", "1"],
        ["label", "Success", "1"],
        ["make_numbers", "Success", "1"],
        ["square", "Mapped (Success 3)", "3"],
        ["total", "Success", "1"],
    ]


def test_run_on_a_scheduler_address_exits_1_when_the_flow_fails(
    flow_dir: Path, run_cli: Cli, scheduler_address: str
) -> None:
    done = run_cli("run", str(flow_dir / "failing.py"), "--address", scheduler_address)
    assert done.returncode == 1, done.stderr
    assert "on DaskTaskRunner" in done.stdout.splitlines()[0]
    assert ["check", "Mapped (Success 2, Failed 1)", "3"] in summary_rows(done.stdout)
    assert "ValueError: bad value 2" in done.stdout


def test_an_at_flow_function_runs_on_a_scheduler_address(
    flow_dir: Path, run_cli: Cli, scheduler_address: str
) -> None:
    done = run_cli(
        "run",
        str(flow_dir / "fn_flow.py"),
        "--address",
        scheduler_address,
        "--param",
        "values=[1, 2, 3]",
    )
    assert done.returncode == 0, done.stderr
    assert ["add", "Completed 3", "3"] in summary_rows(done.stdout)
    assert re.search(r"^Dashboard: http://\S+/status$", done.stdout, re.MULTILINE)


def test_an_unreachable_scheduler_fails_with_a_clear_error(flow_dir: Path, run_cli: Cli) -> None:
    done = run_cli(
        "run",
        str(flow_dir / "squares.py"),
        "--address",
        "tcp://127.0.0.1:9",
        "--connect-timeout",
        "1",
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "orchestrator: error: Could not connect to a Dask scheduler at "
        "'tcp://127.0.0.1:9' within 1 seconds"
    )
