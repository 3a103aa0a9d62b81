"""Retries show in the summary: final states carry their attempts (``run_count``), and the
Runs cell reads ``1 (3 attempts)``; a mapped task or a task called in a loop sums its runs'.

Runs go through the DAG API and ``@flow``, in-process and on Dask (the session's in-process
cluster: final states still travel as ``FinalRecord``s).
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from orchestrator import Flow, context, flow, task
from orchestrator.progress import ProgressDisplay, run_flow_function, summarize
from orchestrator.progress.render import summary_lines
from orchestrator.progress.tally import summarize_runs
from orchestrator.task_runners import DaskTaskRunner, SequentialTaskRunner
from taskrun.states import Failed, Mapped, Skipped, Success

RUNNERS = ["sequential", pytest.param("dask", marks=pytest.mark.integration)]


@task(max_retries=3, retry_delay=timedelta(seconds=0.05))
def flaky(x: int) -> int:
    """Fails the first two attempts for x == 1 (a delay: on Dask the run is held and resumed)."""
    if x == 1 and context.task_run_count < 3:
        raise ValueError(f"attempt {context.task_run_count} of {x}")
    return x


@task(max_retries=1, retry_delay=timedelta(0))
def always_fails() -> None:
    raise ValueError("never works")


@pytest.fixture(params=RUNNERS)
def runner(request: pytest.FixtureRequest) -> Any:
    if request.param == "sequential":
        return SequentialTaskRunner()
    return DaskTaskRunner(address=request.getfixturevalue("inproc_address"))


def plain_display() -> tuple[ProgressDisplay, io.StringIO]:
    buffer = io.StringIO()
    display = ProgressDisplay(
        Console(file=buffer, width=200), live=False, interval=0.01, line_interval=0.0
    )
    return display, buffer


def summary_cells(text: str) -> dict[str, list[str]]:
    """The summary table's rows by task: [state, runs, duration, message]."""
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("Task "))
    rows = [re.split(r"\s{2,}", line, maxsplit=4) for line in lines[head + 1 : -1]]
    return {row[0]: row[1:] for row in rows}


def test_the_runs_cell_counts_attempts_only_when_a_run_was_retried() -> None:
    assert summarize("load", Success(run_count=1)).runs_text() == "1"
    assert summarize("load", Success(run_count=3)).runs_text() == "1 (3 attempts)"
    assert summarize("load", Skipped()).runs_text() == "1"
    children = [Success(run_count=1), Failed(run_count=4), Skipped(), Success(run_count=2)]
    mapped = summarize("clean", Mapped(map_states=children))
    assert (mapped.runs, mapped.attempts, mapped.retried) == (4, 7, 2)
    assert mapped.runs_text() == "4 (7 attempts)"
    assert summarize_runs("add", children).runs_text() == "4 (7 attempts)"
    lines = summary_lines([summarize("load", Success(run_count=3)), mapped])
    assert re.match(r"^load  +Success  +1 \(3 attempts\) ", lines[1])


def test_dag_run_final_states_carry_attempts_and_the_summary_shows_them(runner: Any) -> None:
    with Flow("retried") as retried:
        mapped = flaky.map([0, 1, 2])
        failing = always_fails()
    display, buffer = plain_display()
    state = retried.run(task_runner=runner, progress=display)
    states = state.result()
    assert [child.run_count for child in states[mapped].map_states] == [1, 3, 1]
    assert states[failing].is_failed()
    assert states[failing].run_count == 2
    cells = summary_cells(buffer.getvalue())
    assert cells["flaky"][:2] == ["Mapped (Success 3)", "3 (5 attempts)"]
    assert cells["always_fails"][:2] == ["Failed", "1 (2 attempts)"]


def test_flow_function_runs_carry_attempts_and_the_summary_sums_them(runner: Any) -> None:
    @flow(name="retried-calls", task_runner=runner)
    def retried_calls() -> list[Any]:
        return [flaky(x) for x in range(3)]

    display, buffer = plain_display()
    state = run_flow_function(retried_calls, {}, display)
    assert [s.run_count for s in state.result()] == [1, 3, 1]
    cells = summary_cells(buffer.getvalue())
    assert cells["flaky"][:2] == ["Completed 3", "3 (5 attempts)"]
