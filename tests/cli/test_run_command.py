"""``orchestrator run`` end to end through a subprocess: exit codes, parameters, errors.

Output is not a terminal here, so the progress display prints plain lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from cli_support import flow_dir_fixture, run_cli_fixture  # noqa: F401 - fixtures

from orchestrator import __version__
from orchestrator.cli import main

Cli = Callable[..., CompletedProcess[str]]
FINAL = re.compile(r"^Flow run '[a-z]+-[a-z]+' finished in state (?P<state>.+) after [\dm.]+s$")


def test_run_succeeds_with_params_from_flags_and_file(
    flow_dir: Path, tmp_path: Path, run_cli: Cli
) -> None:
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps({"count": 2, "label": "from file"}))
    done = run_cli(
        "run", str(flow_dir / "squares.py"), "--params-file", str(params_file), "--param", "count=4"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(
        r"^Flow run '[a-z]+-[a-z]+' of flow 'numbers' on SequentialTaskRunner$", lines[0]
    )
    assert lines[1].startswith("[")
    assert lines[-7].startswith("Task ")
    summary = [re.split(r"\s{2,}", line) for line in lines[-6:-1]]
    assert [row[:3] for row in summary] == [
        ["count", "Success", "1"],
        ["label", "Success", "1"],
        ["make_numbers", "Success", "1"],
        ["square", "Mapped (Success 4)", "4"],
        ["total", "Success", "1"],
    ]
    assert FINAL.match(lines[-1])["state"].startswith("Success(")


def test_run_exits_1_when_the_flow_fails_and_says_why(flow_dir: Path, run_cli: Cli) -> None:
    done = run_cli("run", str(flow_dir / "failing.py"))
    assert done.returncode == 1
    assert re.search(
        r"^check +Mapped \(Success 2, Failed 1\) +3 .* child 1: Task run encountered "
        r"an exception\. ValueError: bad value 2$",
        done.stdout,
        re.MULTILINE,
    )
    assert FINAL.match(done.stdout.splitlines()[-1])["state"].startswith("Failed(")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            [],
            "Flow 'required': missing required parameters 'name'. The flow's parameters are: "
            "'name', 'times'",
        ),
        (
            ["--param", "name=ada", "--param", "tmes=2"],
            "Flow 'required': unknown parameters 'tmes'.",
        ),
    ],
)
def test_run_refuses_bad_parameters_before_anything_runs(
    flow_dir: Path, params: list[str], message: str, run_cli: Cli
) -> None:
    done = run_cli("run", str(flow_dir / "required.py"), *params)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"orchestrator: error: {message}")
    assert "pass parameters as --param NAME=VALUE" in done.stderr


def test_run_lists_the_flows_when_a_file_has_several(flow_dir: Path, run_cli: Cli) -> None:
    done = run_cli("run", str(flow_dir / "several.py"))
    assert done.returncode == 2
    assert (
        "defines 3 flows; flows found: first (Flow 'first'), second (Flow 'second'), "
        "third (@flow 'third'). Name one: " in done.stderr
    )


def test_run_quiet_at_flow_function_prints_only_the_final_state(
    flow_dir: Path, run_cli: Cli
) -> None:
    done = run_cli(
        "run",
        f"{flow_dir / 'fn_flow.py'}:adder",
        "-q",
        "--param",
        "values=[1, 2]",
        "--param",
        "offset=10",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "Flow 'adder' finished in state "
        "Completed(message='All states completed.', type=COMPLETED)\n"
    )


def test_version_through_the_console_entry_point(run_cli: Cli) -> None:
    done = run_cli("--version")
    assert (done.returncode, done.stdout) == (0, f"orchestrator {__version__}\n")


@pytest.mark.parametrize("command", [[], ["run"], ["visualize"]])
def test_help_of_every_command_shows_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:\n  orchestrator " in out
    assert f"usage: orchestrator {' '.join(command)}".strip() in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "squares.py", "--workers", "2"], "--workers only applies with --local-cluster"),
        (["run", "squares.py", "--local-cluster", "--workers", "0"], "--workers needs at least 1"),
        (["run", "squares.py", "--param", "count"], "--param expects name=value, got 'count'"),
        (
            ["run", "squares.py", "--connect-timeout", "3"],
            "--connect-timeout only applies with --addr",
        ),
        (["run", "nowhere.py"], "no such file 'nowhere.py'"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    flow_dir: Path,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(flow_dir)
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"orchestrator: error: {message}")


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: orchestrator" in capsys.readouterr().err


def test_address_and_local_cluster_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "x.py", "--address", "tcp://127.0.0.1:1", "--local-cluster"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
