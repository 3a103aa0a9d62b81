"""Resume after the orchestrator dies: SIGKILL ``orchestrator run`` halfway through a map
whose children persist their results, then ``orchestrator run --resume last``.

Each child appends its map index to a file when its body runs. After the resume the
flow's result is right, the run keeps its id (second attempt), and no child that the
journal had recorded with a persisted result ran again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator.journal import SQLiteJournal

pytestmark = [pytest.mark.timeout(240), pytest.mark.integration]

CHILDREN = 2000

FLOW = f"""
    import time
    from pathlib import Path
    from orchestrator import Flow, task
    from orchestrator.results import LocalResult

    HERE = Path(__file__).parent

    @task(result=LocalResult(dir=HERE / "results"))
    def square(x):
        with open(HERE / "ran.txt", "a") as ran:
            ran.write(f"{{x}}\\n")
        time.sleep(0.004)
        return x * x

    @task
    def total(values):
        return sum(values)

    with Flow("squares") as flow:
        total(square.map(list(range({CHILDREN}))))
"""


def _persisted_children() -> set[int]:
    runs = SQLiteJournal().latest_runs(limit=1)
    if not runs:
        return set()
    return {
        r.map_index
        for r in SQLiteJournal().task_runs(runs[0].id)
        if r.task_name == "square" and r.map_index is not None and r.state.result_location
    }


def test_a_killed_run_resumes_and_persisted_children_do_not_run_again(tmp_path: Path) -> None:
    (tmp_path / "squares.py").write_text(textwrap.dedent(FLOW))
    env = {**os.environ, "ORCHESTRATOR_LOG_LEVEL": "WARNING", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "orchestrator", "run", "squares.py", "-q"]
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(_persisted_children()) < CHILDREN // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, "the run ended before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        first.kill()
    persisted = _persisted_children()
    assert CHILDREN // 4 <= len(persisted) < CHILDREN
    killed = SQLiteJournal().find_run("last")
    assert killed.ended is None  # the journal says it never finished
    ran_before = len((tmp_path / "ran.txt").read_text().split())

    resumed = subprocess.run(
        [*command, "--resume", "last"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again = [int(x) for x in (tmp_path / "ran.txt").read_text().split()[ran_before:]]
    assert not persisted & set(again), sorted(persisted & set(again))[:10]
    assert set(again) | persisted == set(range(CHILDREN))
    final = SQLiteJournal().find_run(killed.id)
    assert final.state.kind == "Success"
    listed = subprocess.run(
        [sys.executable, "-m", "orchestrator", "runs", "show", killed.id, "--json"],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    tasks = {entry["task"]: entry for entry in json.loads(listed.stdout)["tasks"]}
    assert tasks["square"]["states"] == {"Success": CHILDREN}
    assert tasks["total"]["state"] == "Success"
