"""A script that runs a flow on an embedded process cluster at module level, unguarded.

Each worker process re-imports the script (``spawn``), so without the check it dies
with hundreds of lines of multiprocessing errors. The check refuses before any process
starts, with one error that shows the ``if __name__ == "__main__":`` guard; a guarded
script runs. Scripts run in real subprocesses, bounded by a timeout.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from orchestrator.errors import UnguardedMainError
from orchestrator.task_runners.dask.main_guard import (
    is_guarded,
    reimported_main_path,
    statements_at,
)

pytestmark = pytest.mark.timeout(180)

FLOW = """
    from orchestrator import Flow, flow, task
    from orchestrator.task_runners import DaskTaskRunner

    @task
    def add(x, y):
        return x + y

    with Flow("adder") as dag:
        total = add(1, 2)
"""


def run_script(tmp_path: Path, text: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "pasted.py"
    script.write_text(textwrap.dedent(FLOW) + textwrap.dedent(text))
    env = {**os.environ, "ORCHESTRATOR_LOG_LEVEL": "WARNING", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_a_module_level_run_fails_at_once_with_one_error_showing_the_guard(tmp_path: Path) -> None:
    done = run_script(tmp_path, "state = dag.run(task_runner=DaskTaskRunner())\nprint(state)\n")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert re.search(
        r"UnguardedMainError: DaskTaskRunner: pasted.py, line \d+ starts a flow run", output
    )
    assert 'if __name__ == "__main__":\n        state = dag.run(task_runner=DaskTaskRunner())' in (
        output
    )
    assert "orchestrator run pasted.py --local-cluster" in output
    assert "bootstrapping phase" not in output
    assert "Nanny failed" not in output
    assert len(output.splitlines()) < 40, output


def test_a_module_level_flow_function_call_stops_the_script_with_the_same_error(
    tmp_path: Path,
) -> None:
    done = run_script(
        tmp_path,
        """
        @flow(task_runner=DaskTaskRunner())
        def adder():
            return add(1, 2)

        state = adder()
        print("STATE", repr(state))
        """,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # not a Failed state the script goes on past
    assert "STATE" not in done.stdout, output
    assert re.search(
        r"UnguardedMainError: DaskTaskRunner: pasted.py, line \d+ starts a flow run", output
    )
    assert 'if __name__ == "__main__":\n        state = adder()' in output
    assert output.count("Traceback (most recent call last)") == 1, output
    assert "bootstrapping phase" not in output
    assert "Nanny failed" not in output
    assert len(output.splitlines()) < 40, output


def test_a_flow_function_submitted_unguarded_ends_failed_with_the_error(tmp_path: Path) -> None:
    done = run_script(
        tmp_path,
        """
        @flow(task_runner=DaskTaskRunner())
        def adder():
            return add(1, 2)

        run = adder.submit()
        state = run.wait(60)
        print("STATE", repr(state))
        print("ERROR", type(state.result(raise_on_failure=False)).__name__)
        """,
    )
    output = done.stdout + done.stderr
    assert "STATE Failed(" in done.stdout, output
    assert "ERROR UnguardedMainError" in done.stdout, output


def test_a_guarded_script_runs_on_worker_processes(tmp_path: Path) -> None:
    done = run_script(
        tmp_path,
        """
        def main():
            runner = DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1})
            return dag.run(task_runner=runner)

        if __name__ == "__main__":
            print("RESULT", main().result()[total].result())
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RESULT 3" in done.stdout


def test_a_run_in_threads_needs_no_guard(tmp_path: Path) -> None:
    done = run_script(
        tmp_path,
        """
        runner = DaskTaskRunner(cluster_kwargs={"processes": False, "n_workers": 1})
        print("RESULT", dag.run(task_runner=runner).result()[total].result())
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RESULT 3" in done.stdout


def test_a_spawned_process_importing_the_main_module_gets_the_same_error(tmp_path: Path) -> None:
    """The check in the child: what the parent cannot see (no source, say) still reads well."""
    done = run_script(
        tmp_path,
        """
        import multiprocessing
        from distributed import LocalCluster
        from orchestrator.task_runners.dask.main_guard import check_main_guard

        if multiprocessing.current_process().name != "MainProcess":  # the child, importing this
            check_main_guard(LocalCluster, {})

        def nothing():
            pass

        if __name__ == "__main__":
            child = multiprocessing.get_context("spawn").Process(target=nothing)
            child.start()
            child.join(60)
            print("CHILD EXIT", child.exitcode)
        """,
    )
    assert "CHILD EXIT 1" in done.stdout, done.stdout + done.stderr
    assert re.search(r"UnguardedMainError: DaskTaskRunner: pasted.py, line \d+ starts", done.stderr)
    assert "check_main_guard(LocalCluster, {})" in done.stderr
    assert "bootstrapping phase" not in done.stderr


# ---- the parts, on their own ---------------------------------------------------------------
SOURCE = """\
import x
run()
if __name__ == "__main__":
    with runner:
        run()
else:
    run()
try:
    if "__main__" == __name__:
        run()
except ValueError:
    run()
with runner:
    run()
"""


@pytest.mark.parametrize(
    ("line", "guarded"),
    [(2, False), (5, True), (7, True), (10, True), (12, False), (14, False)],
)
def test_is_guarded_reads_ifs_on_name_around_the_line(line: int, guarded: bool) -> None:
    statements = statements_at(ast.parse(SOURCE), line)
    assert statements, line
    assert is_guarded(statements) is guarded


def test_the_main_module_is_reimported_only_when_multiprocessing_would() -> None:
    script = types.ModuleType("__main__")
    script.__file__ = "/tmp/flows/job.py"
    assert reimported_main_path(script) == "/tmp/flows/job.py"
    package_main = types.ModuleType("__main__")
    package_main.__file__ = "/tmp/pkg/__main__.py"
    package_main.__spec__ = types.SimpleNamespace(name="pkg.__main__")  # type: ignore[assignment]
    assert reimported_main_path(package_main) is None
    interactive = types.ModuleType("__main__")
    assert reimported_main_path(interactive) is None
    assert reimported_main_path(None) is None


def test_the_error_pickles_and_says_where() -> None:
    import pickle

    error = UnguardedMainError("/tmp/job.py", 7, "state = flow.run()")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert "job.py, line 7" in str(error)
    assert '    if __name__ == "__main__":\n        state = flow.run()' in str(error)
