"""The progress display: counting, plain lines (checked line by line) and live updates."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator import Flow, Parameter, flow, task
from orchestrator.progress import ProgressDisplay, run_flow_function, summarize, tally
from orchestrator.progress.render import summary_lines
from orchestrator.progress.tally import SummaryRow
from orchestrator.task_runners import ConcurrentTaskRunner
from taskrun.states import Failed, Mapped, Paused, Pending, Running, Skipped, Success

HEADER = re.compile(r"^Flow run '[a-z]+-[a-z]+' of flow '(?P<flow>[^']+)' on (?P<runner>\w+)$")
PROGRESS = re.compile(
    r"^\[ *\d+\.\ds\] (?P<task>\w+)(?P<mapped> \(mapped\))?: "
    r"(?P<finished>\d+)/(?P<runs>\d+) finished; (?P<counts>.+)$"
)
SUMMARY_HEAD = re.compile(r"^Task +State +Runs +Duration +Message$")
FINAL = re.compile(r"^Flow run '[a-z]+-[a-z]+' finished in state (?P<state>.+) after [\dm.]+s$")


def plain_display() -> tuple[ProgressDisplay, io.StringIO]:
    buffer = io.StringIO()
    display = ProgressDisplay(
        Console(file=buffer, width=200), live=False, interval=0.01, line_interval=0.0
    )
    return display, buffer


@task
def make_numbers(count: int) -> list[int]:
    return list(range(count))


@task
def invert(x: int) -> float:
    return 1 / x


@task
def total(values: list[float]) -> float:
    return sum(values)


def test_tally_counts_runs_by_state_and_settled_runs() -> None:
    row = tally("load", True, [Success(), Running(), Success(), Paused(), Pending()])
    assert (row.runs, row.finished, row.counts_text()) == (
        5,
        3,
        "Success 2, Running 1, Paused 1, Pending 1",
    )
    row = tally("load", True, [Pending(), Failed(), Running(), Skipped(), Success()])
    assert row.counts_text() == "Success 1, Skipped 1, Failed 1, Running 1, Pending 1"
    assert tally("load", False, None).counts_text() == "waiting"
    assert tally("load", True, []).counts_text() == "no runs"


def test_summary_of_a_mapped_task_counts_children_and_names_the_first_failure() -> None:
    state = Mapped(
        "Mapped 3 children.",
        map_states=[
            Success(duration=1.0),
            Failed("Task run encountered an exception.", ValueError("bad row")),
            Success(duration=0.5),
        ],
    )
    row = summarize("clean", state)
    assert row == SummaryRow(
        "clean",
        "Mapped (Success 2, Failed 1)",
        Mapped.color,
        3,
        1.5,
        "1 of 3 children failed; child 1: Task run encountered an exception. ValueError: bad row",
    )


def test_summary_lines_are_aligned_and_keep_whole_messages() -> None:
    rows = [
        SummaryRow("a", "Success", "", 1, 0.25, "ok"),
        SummaryRow("longer_name", "Failed", "", 12, None, "a long message " * 3),
    ]
    assert summary_lines(rows) == [
        "Task         State    Runs  Duration  Message",
        "a            Success     1     0.25s  ok",
        "longer_name  Failed     12         -  " + ("a long message " * 3).strip(),
    ]


def test_plain_progress_of_a_dag_run_line_by_line() -> None:
    with Flow("inverses") as inverses:
        values = invert.map(make_numbers(Parameter("count", default=3)))
        total(values)
    display, buffer = plain_display()
    state = inverses.run(parameters={"count": 3}, progress=display)
    lines = buffer.getvalue().splitlines()

    assert HEADER.match(lines[0]).group("flow", "runner") == ("inverses", "SequentialTaskRunner")
    head = next(i for i, line in enumerate(lines) if SUMMARY_HEAD.match(line))
    last_seen = {}
    for line in lines[1:head]:
        match = PROGRESS.match(line)
        assert match, f"not a progress line: {line!r}"
        last_seen[match["task"]] = match.group("mapped", "finished", "runs", "counts")
    assert last_seen == {
        "count": (None, "1", "1", "Success 1"),
        "make_numbers": (None, "1", "1", "Success 1"),
        "invert": (" (mapped)", "3", "3", "Success 2, Failed 1"),
        "total": (None, "1", "1", "TriggerFailed 1"),
    }
    rows = [re.split(r"\s{2,}", line, maxsplit=4) for line in lines[head + 1 : -1]]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("count", "Success", "1"),
        ("make_numbers", "Success", "1"),
        ("invert", "Mapped (Success 2, Failed 1)", "3"),
        ("total", "TriggerFailed", "1"),
    ]
    assert rows[2][4] == (
        "1 of 3 children failed; child 0: Task run encountered an exception. "
        "ZeroDivisionError: division by zero"
    )
    assert FINAL.match(lines[-1])["state"] == repr(state)
    assert state.is_failed()


def test_plain_progress_of_an_at_flow_run_groups_runs_by_task() -> None:
    @flow(name="adder")
    def adder(values: list[int]) -> None:
        for value in values:
            total([value, 1])

    display, buffer = plain_display()
    state = run_flow_function(adder, {"values": [1, 2]}, display)
    lines = buffer.getvalue().splitlines()
    assert HEADER.match(lines[0]).group("flow") == "adder"
    assert lines[-3] == "Task   State        Runs  Duration  Message"
    assert re.match(r"^total  Completed 2     2 +[\d.]+s$", lines[-2])
    assert PROGRESS.match(lines[-4]).group("task", "finished", "runs", "counts") == (
        "total",
        "2",
        "2",
        "Completed 2",
    )
    assert FINAL.match(lines[-1])["state"] == repr(state)
    assert state.is_successful()


def test_progress_shows_runs_while_they_run(tmp_path: Path) -> None:
    """A run blocked on an event is shown Running before it finishes."""
    release = threading.Event()

    @task
    def blocked(x: int) -> int:
        assert release.wait(30), "the test never released the task"
        return x

    with Flow("blocked") as blocked_flow:
        blocked.map(make_numbers(2))
    display, buffer = plain_display()
    result: dict[str, object] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            state=blocked_flow.run(
                task_runner=ConcurrentTaskRunner(max_workers=4), progress=display
            )
        )
    )
    runner.start()
    try:
        for _ in range(3000):
            if "blocked (mapped): 0/2 finished; Running 2" in buffer.getvalue():
                break
            threading.Event().wait(0.01)
        assert "blocked (mapped): 0/2 finished; Running 2" in buffer.getvalue()
    finally:
        release.set()
        runner.join(30)
    assert "blocked (mapped): 2/2 finished; Success 2" in buffer.getvalue()
    assert result["state"].is_successful()


def test_plain_lines_of_a_running_task_are_spaced_out_but_its_last_line_is_always_printed() -> None:
    release = threading.Event()

    @task
    def blocked(x: int) -> int:
        assert release.wait(30), "the test never released the task"
        return x

    with Flow("blocked") as blocked_flow:
        blocked.map(make_numbers(3))
    buffer = io.StringIO()
    display = ProgressDisplay(
        Console(file=buffer, width=200), live=False, interval=0.01, line_interval=3600
    )
    thread = threading.Thread(
        target=blocked_flow.run,
        kwargs={"task_runner": ConcurrentTaskRunner(max_workers=4), "progress": display},
    )
    thread.start()
    try:
        for _ in range(3000):
            if "blocked (mapped): 0/" in buffer.getvalue():
                break
            threading.Event().wait(0.01)
    finally:
        release.set()
        thread.join(30)
    blocked_lines = [line for line in buffer.getvalue().splitlines() if "] blocked" in line]
    assert len(blocked_lines) == 2
    assert re.search(r"blocked \(mapped\): 0/[123] finished; ", blocked_lines[0])
    assert blocked_lines[1].endswith("blocked (mapped): 3/3 finished; Success 3")


def test_progress_argument_must_be_a_display_or_a_bool() -> None:
    with Flow("tiny") as tiny:
        make_numbers(1)
    with pytest.raises(TypeError, match="progress must be True, False or a ProgressDisplay"):
        tiny.run(progress="yes")


def test_flow_function_run_with_progress_shows_the_same_display() -> None:
    @flow(name="inverter")
    def inverter(values: list[int]) -> None:
        for value in values:
            invert(value)

    display, buffer = plain_display()
    state = inverter.run({"values": [1, 0]}, progress=display)
    lines = buffer.getvalue().splitlines()
    assert HEADER.match(lines[0]).group("flow") == "inverter"
    assert PROGRESS.match(lines[-4]).group("task", "finished", "runs") == ("invert", "2", "2")
    assert FINAL.match(lines[-1])["state"] == "Failed(message='1/2 states failed.', type=FAILED)"
    assert state.is_failed()
