"""Each log record of a run on worker processes is printed once, by the orchestrator.

A worker process of the embedded ``LocalCluster`` writes to the terminal it inherited and
also forwards its task runs' records to the orchestrator, which prints them: without care
every line shows up twice. The command runs in a real subprocess on real worker processes.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestrator.logging_setup import FORWARDED, ConsoleFormatter, printed_here

pytestmark = pytest.mark.timeout(180)

CHILDREN = 12

MARKERS = """
    from orchestrator import Flow, context, task

    @task(log_stdout=True)
    def mark(x):
        context.logger.info("MARKER-%d logged", x)
        print(f"MARKER-{x} printed")
        return x

    with Flow("markers") as flow:
        mark.map(list(range(CHILDREN)))
"""


def test_each_task_run_line_is_printed_once_with_its_task_run_name(tmp_path: Path) -> None:
    script = tmp_path / "markers.py"
    script.write_text(textwrap.dedent(MARKERS).replace("CHILDREN", str(CHILDREN)))
    env = {**os.environ, "ORCHESTRATOR_LOGGING": "on", "ORCHESTRATOR_LOG_LEVEL": "INFO"}
    env["NO_COLOR"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "run",
            str(script),
            "--local-cluster",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=150,
        env=env,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    lines = output.splitlines()
    for x in range(CHILDREN):
        for how in ("logged", "printed"):
            found = [line for line in lines if line.endswith(f"| MARKER-{x} {how}")]
            assert len(found) == 1, (x, how, found, output)
            run_name = rf"mark-[0-9a-f]{{8}}-{x}"
            assert re.search(rf"INFO - orchestrator\.Task: mark \| {run_name} \| MARKER-", found[0])
    started = [line for line in lines if "Task 'mark[3]': Starting task run..." in line]
    assert len(started) == 1, output  # the executor's own lines too


def test_the_console_skips_forwarded_records_and_names_the_task_run() -> None:
    formatter = ConsoleFormatter()
    record = logging.makeLogRecord(
        {"name": "orchestrator.Task: add", "msg": "hello", "levelname": "INFO"}
    )
    assert printed_here(record)  # not forwarded; outside a task run: no run name
    assert formatter.format(record).endswith("INFO - orchestrator.Task: add | hello")
    record.task_run_name = "add-1a2b3c4d-0"
    assert formatter.format(record).endswith(
        "INFO - orchestrator.Task: add | add-1a2b3c4d-0 | hello"
    )
    executor = logging.makeLogRecord(
        {"name": "orchestrator.TaskRunner", "msg": "Task 'add': Starting task run..."}
    )
    executor.task_run_name = "add-1a2b3c4d-0"
    assert " | add-1a2b3c4d-0 | " not in formatter.format(executor)  # it names its task already
    setattr(record, FORWARDED, True)
    assert not printed_here(record)
