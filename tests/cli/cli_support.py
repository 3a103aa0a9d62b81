"""Fixtures for command-line tests: small flow files and a way to run the command.

Test modules import the fixtures they use from here (a ``conftest.py`` in this
directory would clash with the other ``conftest`` modules under ``--doctest-modules``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: flow files the tests run, written once per session
FLOW_FILES = {
    "squares.py": """
        from orchestrator import Flow, Parameter, task

        @task
        def make_numbers(count):
            return list(range(count))

        @task
        def square(x):
            return x * x

        @task
        def total(values, label):
            return f"{label}: {sum(values)}"

        with Flow("numbers") as flow:
            count = Parameter("count", default=3)
            label = Parameter("label", default="sum")
            squares = square.map(make_numbers(count))
            result = total(squares, label)
    """,
    "failing.py": """
        from orchestrator import Flow, task

        @task
        def make_numbers():
            return [1, 2, 3]

        @task
        def check(x):
            if x == 2:
                raise ValueError(f"bad value {x}")
            return x

        with Flow("failing") as flow:
            checked = check.map(make_numbers())
    """,
    "required.py": """
        from orchestrator import Flow, Parameter, task

        @task
        def greet(name, times):
            return [f"hello {name}"] * times

        with Flow("required") as flow:
            greeting = greet(Parameter("name"), Parameter("times", default=1))
    """,
    "several.py": """
        from orchestrator import Flow, flow, task

        @task
        def one():
            return 1

        with Flow("first") as first:
            one()

        with Flow("second") as second:
            one()

        @flow(name="third")
        def third(x: int = 1):
            return one()
    """,
    "fn_flow.py": """
        from orchestrator import flow
        from orchestrator import task

        @task
        def add(x, y):
            return x + y

        @flow(name="adder")
        def adder(values, offset=0):
            return [add(v, offset) for v in values]
    """,
    "gate.py": '''
        """A flow whose mapped task waits until the test opens the gate (a file)."""
        import time
        from pathlib import Path

        from orchestrator import Flow, Parameter, task, unmapped
        from orchestrator.task_runners import ConcurrentTaskRunner

        @task
        def items(count):
            return list(range(count))

        @task
        def wait_at_gate(x, gate):
            deadline = time.monotonic() + 60
            while not Path(gate).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return x

        with Flow("gated", task_runner=ConcurrentTaskRunner(max_workers=4)) as flow:
            gate = Parameter("gate")
            waited = wait_at_gate.map(items(Parameter("count", default=3)), gate=unmapped(gate))
    ''',
}


@pytest.fixture(scope="session", name="flow_dir")
def flow_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("flows")
    for name, text in FLOW_FILES.items():
        (directory / name).write_text(textwrap.dedent(text))
    return directory


def cli_command(*args: str) -> list[str]:
    """The ``orchestrator`` command, run by this Python (works in any virtualenv)."""
    return [sys.executable, "-m", "orchestrator.cli", *args]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``orchestrator ARGS`` to the end; output is not a terminal (plain lines)."""
    env = {**os.environ, "ORCHESTRATOR_LOG_LEVEL": "WARNING", "NO_COLOR": "1"}
    return subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(name="run_cli")
def run_cli_fixture() -> object:
    """``run_cli("run", "flow.py", ...)``: the command run to the end in a subprocess."""
    return run_cli
