"""Bad command lines and flow files get one clear line on stderr and exit status 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from cli_support import flow_dir_fixture, run_cli_fixture  # noqa: F401 - fixtures

Cli = Callable[..., CompletedProcess[str]]


def _one_error_line(done: CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(("code", "shown"), [("3", "sys.exit(3)"), ("", "sys.exit(None)")])
def test_a_flow_file_calling_sys_exit_at_import_is_named_in_one_line(
    tmp_path: Path, run_cli: Cli, code: str, shown: str
) -> None:
    script = tmp_path / "exits.py"
    script.write_text(f"import sys\n\nsys.exit({code})\n")
    done = run_cli("run", str(script))
    assert done.returncode == 2, done.stderr
    line = _one_error_line(done)
    assert line.startswith("orchestrator: error: "), line
    assert str(script) in line
    assert f"called {shown} while being imported" in line
    assert "if __name__ == '__main__':" in line


def test_a_negative_connect_timeout_is_one_line_before_anything_connects(
    flow_dir: Path, run_cli: Cli
) -> None:
    done = run_cli(
        "run", str(flow_dir / "squares.py"), "--address", "tcp://127.0.0.1:1",
        "--connect-timeout", "-1",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    line = _one_error_line(done)
    assert "--connect-timeout needs a positive number of seconds, got -1" in line
    assert "Traceback" not in done.stderr
