"""Resume after the orchestrator dies: SIGKILL ``orchestrator run`` halfway through a map
whose children persist their results, then ``orchestrator run --resume last``, for a DAG
flow and for an ``@flow`` function; in-process,
and on a remote cluster (``dask scheduler`` + ``python -m workers``) that keeps running
while its orchestrator is killed and serves the resumed attempt.

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

from faults.processes import Processes, wait_for_workers, worker_env
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


FLOW_FUNCTION = f"""
    import time
    from pathlib import Path
    from orchestrator import flow, task
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

    @flow(name="squares")
    def squares(n: int = {CHILDREN}):
        return total(square.map(list(range(n))))
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


def _kill_when_a_quarter_is_persisted(first: subprocess.Popen[bytes]) -> set[int]:
    """SIGKILL ``first`` once a quarter of the children are journalled as persisted."""
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
    return persisted


def _check_resumed(
    directory: Path, resumed: subprocess.CompletedProcess[str], persisted: set[int],
    ran_before: int, run_id: str, env: dict[str, str],
) -> None:  # fmt: skip
    """The resumed attempt succeeded, and no persisted child ran again."""
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again = [int(x) for x in (directory / "ran.txt").read_text().split()[ran_before:]]
    assert not persisted & set(again), sorted(persisted & set(again))[:10]
    assert set(again) | persisted == set(range(CHILDREN))
    final = SQLiteJournal().find_run(run_id)
    assert (final.state.kind, final.attempt) in {("Success", 2), ("Completed", 2)}
    listed = subprocess.run(
        [sys.executable, "-m", "orchestrator", "runs", "show", run_id, "--json"],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    tasks = {entry["task"]: entry for entry in json.loads(listed.stdout)["tasks"]}
    assert tasks["square"]["states"] == {"Success": CHILDREN}
    assert tasks["total"]["state"] == "Success"


@pytest.mark.parametrize("source", [FLOW, FLOW_FUNCTION], ids=["dag", "flow-function"])
def test_a_killed_run_resumes_and_persisted_children_do_not_run_again(
    tmp_path: Path, source: str
) -> None:
    (tmp_path / "squares.py").write_text(textwrap.dedent(source))
    env = {**os.environ, "ORCHESTRATOR_LOG_LEVEL": "WARNING", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "orchestrator", "run", "squares.py", "-q"]
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    persisted = _kill_when_a_quarter_is_persisted(first)
    killed = SQLiteJournal().find_run("last")
    assert killed.ended is None  # the journal says it never finished
    ran_before = len((tmp_path / "ran.txt").read_text().split())

    resumed = subprocess.run(
        [*command, "--resume", "last"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    _check_resumed(tmp_path, resumed, persisted, ran_before, killed.id, env)


@pytest.mark.parametrize("source", [FLOW, FLOW_FUNCTION], ids=["dag", "flow-function"])
def test_a_run_killed_while_its_remote_cluster_runs_on_resumes_there(
    tmp_path: Path, processes: Processes, source: str
) -> None:
    scheduler = processes.scheduler()
    workers = [processes.worker(scheduler.address, "--nthreads", "2") for _ in range(2)]
    wait_for_workers(scheduler.address, 2)
    (tmp_path / "squares.py").write_text(textwrap.dedent(source))
    env = worker_env({"ORCHESTRATOR_LOG_LEVEL": "WARNING", "NO_COLOR": "1"})
    command = [
        sys.executable, "-m", "orchestrator", "run", "squares.py", "-q",
        "--address", scheduler.address,
    ]  # fmt: skip
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    persisted = _kill_when_a_quarter_is_persisted(first)
    killed = SQLiteJournal().find_run("last")
    assert killed.ended is None
    assert scheduler.is_alive()  # the cluster runs on
    assert all(w.is_alive() for w in workers)
    time.sleep(1.0)  # batches the killed orchestrator sent may still finish on the workers
    ran_before = len((tmp_path / "ran.txt").read_text().split())

    resumed = subprocess.run(
        [*command, "--resume", "last"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    _check_resumed(tmp_path, resumed, persisted, ran_before, killed.id, env)
    assert scheduler.is_alive()
    assert all(w.is_alive() for w in workers)
