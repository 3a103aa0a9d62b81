"""``python -m orchestrator`` is the ``orchestrator`` command (as ``python -m pip`` is pip)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.timeout(60)
def test_python_m_orchestrator_runs_a_flow_like_the_command(tmp_path):
    flow_file = tmp_path / "one.py"
    flow_file.write_text(
        textwrap.dedent(
            """
            from orchestrator import Flow, task

            @task
            def answer():
                return 42

            with Flow("one") as flow:
                answer()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "run", str(flow_file), "--quiet"],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    version = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--version"],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert version.returncode == 0
    assert version.stdout.strip().startswith("orchestrator ")
