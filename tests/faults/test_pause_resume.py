"""Pause in one process, resume from another: ``orchestrator run`` ends ``Paused`` and
exits; ``orchestrator resume last --task publish``, a new process, finishes the same
flow run (its second attempt) from the journal and the persisted upstream result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(180), pytest.mark.integration]

TASKS = """
    from pathlib import Path
    from orchestrator import Flow, flow, task
    from orchestrator.results import LocalResult
    from orchestrator.triggers import manual_only

    HERE = Path(__file__).parent

    def ran(name):
        with open(HERE / "ran.txt", "a") as out:
            out.write(name + "\\n")

    @task(result=LocalResult(dir=HERE / "results"))
    def report(n):
        ran("report")
        return n * 2

    @task(trigger=manual_only)
    def publish(value):
        ran("publish")
        (HERE / "published.txt").write_text(f"published {value}")
        return value

"""

FLOW = (
    TASKS
    + """
    with Flow("approval") as flow:
        publish(report(21))
"""
)


def _orchestrator(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_run_paused_by_one_process_is_resumed_by_another(tmp_path: Path) -> None:
    (tmp_path / "approval.py").write_text(textwrap.dedent(FLOW))
    env = {**os.environ, "NO_COLOR": "1"}
    paused = _orchestrator("run", "approval.py", "-q", cwd=tmp_path, env=env)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert "Paused" in paused.stdout
    assert (tmp_path / "ran.txt").read_text().split() == ["report"]

    elsewhere = tmp_path / "elsewhere"  # another directory: the journal knows the file
    elsewhere.mkdir()
    resumed = _orchestrator("resume", "last", "--task", "publish", "-q", cwd=elsewhere, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "published.txt").read_text() == "published 42"
    assert (tmp_path / "ran.txt").read_text().split() == ["report", "publish"]

    shown = _orchestrator("runs", "--json", cwd=tmp_path, env=env)
    [run] = json.loads(shown.stdout)
    assert (run["state"], run["attempt"]) == ("Success", 2)
    assert run["source"] == f"{(tmp_path / 'approval.py').resolve()}:flow"

    again = _orchestrator("resume", run["id"], "--task", "publish", cwd=tmp_path, env=env)
    assert again.returncode == 2
    assert "no paused task run of ['publish']" in again.stderr


FLOW_FUNCTION = (
    TASKS
    + """
    @flow
    def approval(n: int = 21):
        return publish(report(n))
"""
)


def test_an_flow_function_paused_by_one_process_is_resumed_by_another(tmp_path: Path) -> None:
    """The same for an ``@flow`` function: ``report``'s persisted result is read back (its
    body does not run again) and the paused ``publish`` call starts from ``Resume``."""
    (tmp_path / "approval.py").write_text(textwrap.dedent(FLOW_FUNCTION))
    env = {**os.environ, "NO_COLOR": "1"}
    paused = _orchestrator("run", "approval.py", "--param", "n=5", "-q", cwd=tmp_path, env=env)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert "Paused" in paused.stdout
    assert (tmp_path / "ran.txt").read_text().split() == ["report"]

    resumed = _orchestrator("resume", "last", "--task", "publish", "-q", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "published.txt").read_text() == "published 10"  # the run's n=5
    assert (tmp_path / "ran.txt").read_text().split() == ["report", "publish"]
    shown = _orchestrator("runs", "--json", cwd=tmp_path, env=env)
    [run] = json.loads(shown.stdout)
    assert run["attempt"] == 2
    assert run["state"] in ("Success", "Completed")

    again = _orchestrator("resume", run["id"], "--task", "publish", cwd=tmp_path, env=env)
    assert again.returncode == 2
    assert "no paused task run of ['publish']" in again.stderr
