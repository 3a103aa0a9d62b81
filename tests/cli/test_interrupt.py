"""Ctrl-C in ``orchestrator run``: the summary of what finished and what was cut short.

A real ``orchestrator run`` subprocess runs a long flow; once some task runs have finished
(its plain progress lines say so) it gets SIGINT, as from Ctrl-C. It must print the
summary table (finished runs with their states, unfinished ones Cancelled, interrupted),
say it was interrupted, and exit 130, within a bounded time.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

DAG_FLOW = """
    import time
    from orchestrator import Flow, task

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def quick(x):
        return x

    @task
    def slow(values):
        time.sleep(60)
        return values

    with Flow("long") as flow:
        slow(quick.map(numbers()))
"""

FUNCTION_FLOW = """
    import time
    from pathlib import Path
    from orchestrator import flow, task
    from orchestrator.task_runners import ConcurrentTaskRunner

    @task
    def quick(x):
        return x

    @task
    def slow(gate):
        deadline = time.monotonic() + 60  # a thread cannot be stopped: the test opens the gate
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    @flow(name="long-fn", task_runner=ConcurrentTaskRunner(max_workers=2))
    def long_fn(gate: str):
        for i in range(3):
            quick(i).wait()
        slow(gate)
"""


class Command:
    """``orchestrator run ...`` in a subprocess whose output is read line by line."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {**os.environ, "ORCHESTRATOR_LOG_LEVEL": "WARNING", "NO_COLOR": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "run", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # a shell may start background jobs with SIGINT ignored: Ctrl-C must reach it
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if re.search(pattern, line):
                return
        self.process.kill()
        pytest.fail(f"no line matched {pattern!r}:\n{''.join(self.lines)}")

    def interrupt(self) -> None:
        """SIGINT, as Ctrl-C sends it."""
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        """The exit status and the whole output, once it exits."""
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"still running {timeout}s later:\n{''.join(self.lines)}")
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return status, "".join(self.lines)


def row(output: str, task: str) -> str:
    """The summary table's row of ``task`` (after the ``Task  State ...`` header)."""
    table = output[output.index("Task ") :]
    found = re.search(rf"^{task} +.*$", table, flags=re.MULTILINE)
    assert found is not None, f"no summary row for {task!r}:\n{output}"
    return found.group(0)


def test_ctrl_c_prints_what_finished_and_what_was_cancelled_then_exits_130(
    tmp_path: Path,
) -> None:
    (tmp_path / "long.py").write_text(textwrap.dedent(DAG_FLOW))
    command = Command("long.py", cwd=tmp_path)
    command.wait_for(r"quick \(mapped\): 3/3 finished")
    command.interrupt()
    status, output = command.finish()
    assert status == 130, output
    assert re.search(r"^Task +State +Runs +Duration +Message$", output, flags=re.MULTILINE)
    assert re.match(r"numbers +Success +1 ", row(output, "numbers"))
    assert re.match(r"quick +Mapped \(Success 3\) +3 ", row(output, "quick"))
    assert re.match(r"slow +Cancelled +0 +- +Interrupted \(Ctrl-C\)", row(output, "slow"))
    assert re.search(r"Flow run '[\w-]+' was interrupted \(Ctrl-C\) after", output)
    assert output.rstrip().endswith("orchestrator: interrupted")


def test_ctrl_c_in_a_flow_function_shows_its_running_task_as_cancelled(tmp_path: Path) -> None:
    (tmp_path / "long_fn.py").write_text(textwrap.dedent(FUNCTION_FLOW))
    gate = tmp_path / "gate"
    command = Command("long_fn.py", "--param", f"gate={gate}", cwd=tmp_path)
    command.wait_for(r"slow: 0/1 finished; Running 1")
    try:
        command.interrupt()
        command.wait_for(r"orchestrator: interrupted", timeout=30)
    finally:
        gate.touch()  # lets the task thread end, so the process can exit
    status, output = command.finish()
    assert status == 130, output
    assert re.match(r"quick +Completed 3 +3 ", row(output, "quick"))
    assert re.match(r"slow +Cancelled +1 +- +Interrupted \(Ctrl-C\)", row(output, "slow"))
