"""The isolated body call (``taskrun.isolated``): a body in a child process, stopped at its
timeout, with its value, errors, signals, prints, logs and context as a thread would have.

Each test but the frame ones starts a real child process (about 0.1-0.3 s); bodies are
defined inside the tests, so they travel by value and the child imports nothing of ours
but ``taskrun``.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from taskrun import signals
from taskrun.context import enter, leave
from taskrun.isolated import (
    _HEADER,
    OUTCOME,
    PRINTED,
    BodyTimedOut,
    IsolatedBodyError,
    _frames,
    call_isolated,
)


def _frame(tag: bytes, body: bytes) -> bytes:
    return _HEADER.pack(tag, len(body)) + body


# ---- frames ------------------------------------------------------------------------------------
def test_complete_frames_are_read_and_a_partial_one_waits_for_its_rest() -> None:
    data = _frame(PRINTED, b"hello\n") + _frame(OUTCOME, b"xyz")
    buffer = bytearray(data[:-2])
    assert list(_frames(buffer)) == [(PRINTED, b"hello\n")]
    buffer += data[-2:]
    assert list(_frames(buffer)) == [(OUTCOME, b"xyz")]
    assert buffer == bytearray()


# ---- what comes back -----------------------------------------------------------------------------
def test_the_value_comes_back() -> None:
    def add(x: int, y: int) -> int:
        return x + y

    assert call_isolated(add, {"x": 1, "y": 2}, 30, "add") == 3


def test_an_error_comes_back_with_the_childs_traceback_as_a_note() -> None:
    def broken() -> None:
        raise KeyError("rows")

    with pytest.raises(KeyError, match="rows") as raised:
        call_isolated(broken, {}, 30, "broken")
    notes = getattr(raised.value, "__notes__", [])
    assert len(notes) == 1
    assert "Raised in the task's process" in notes[0]
    assert "in broken" in notes[0]


def test_a_signal_comes_back_as_that_signal() -> None:
    def retries() -> None:
        raise signals.RETRY("later", result=7)

    with pytest.raises(signals.RETRY) as raised:
        call_isolated(retries, {}, 30, "retries")
    assert (raised.value.message, raised.value.result) == ("later", 7)


def test_the_body_sees_the_run_context() -> None:
    def reads_context() -> tuple[Any, Any]:
        from taskrun.context import current

        keys = current()
        return keys["task_name"], keys["task_run_count"]

    token = enter({"task_name": "reads_context", "task_run_count": 2})
    try:
        assert call_isolated(reads_context, {}, 30, "reads_context") == ("reads_context", 2)
    finally:
        leave(token)


def test_prints_reach_the_callers_stdout_and_logs_its_loggers(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    def chatty() -> None:
        import logging

        print("printed", "line")
        logging.getLogger("orchestrator.Task: chatty").warning("logged %d", 3)

    caplog.set_level(logging.INFO, logger="orchestrator")
    call_isolated(chatty, {}, 30, "chatty")
    assert capsys.readouterr().out == "printed line\n"
    logged = [r for r in caplog.records if r.name == "orchestrator.Task: chatty"]
    assert [(r.levelno, r.getMessage()) for r in logged] == [(logging.WARNING, "logged 3")]


# ---- timeouts ------------------------------------------------------------------------------------
def test_a_body_past_its_timeout_is_killed_with_the_processes_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"

    def starts_a_process_and_sleeps(pid_path: str) -> None:
        import subprocess
        import time

        grandchild = subprocess.Popen(["sleep", "30"])
        with open(pid_path, "w") as handle:
            handle.write(str(grandchild.pid))
        time.sleep(30)

    started = time.monotonic()
    with pytest.raises(BodyTimedOut):
        call_isolated(starts_a_process_and_sleeps, {"pid_path": str(pid_file)}, 1.0, "sleeper")
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the body's own child process outlived the timeout"


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie, killed but not yet reaped by init, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


# ---- what cannot work, said plainly --------------------------------------------------------------
def test_inputs_that_do_not_pickle_name_the_task_and_the_thread_opt_out() -> None:
    import threading

    def uses(lock: Any) -> None:
        return None

    with pytest.raises(
        IsolatedBodyError, match=r"Task 'uses': its body or inputs cannot be pickled"
    ):
        call_isolated(uses, {"lock": threading.Lock()}, 30, "uses")
    with pytest.raises(IsolatedBodyError, match=r"timeout_isolation='thread'"):
        call_isolated(uses, {"lock": threading.Lock()}, 30, "uses")


def test_a_result_that_does_not_pickle_is_an_error_naming_its_type() -> None:
    def returns_a_lock() -> Any:
        import threading

        return threading.Lock()

    with pytest.raises(IsolatedBodyError, match=r"its result, a lock, cannot be pickled back"):
        call_isolated(returns_a_lock, {}, 30, "returns_a_lock")


@pytest.mark.parametrize(
    ("ending", "expected"),
    [("os._exit(3)", r"exited with code 3"), ("sys.exit(4)", r"raised SystemExit\(4\)")],
)
def test_a_body_that_ends_its_process_fails_saying_how(ending: str, expected: str) -> None:
    def ends() -> None:
        import os  # noqa: F401 - used by the exec'd line
        import sys  # noqa: F401 - used by the exec'd line

        exec(ending)

    with pytest.raises(IsolatedBodyError, match=expected):
        call_isolated(ends, {}, 30, "ends")


def test_a_body_whose_module_the_child_cannot_import_fails_saying_so(tmp_path: Path) -> None:
    (tmp_path / "only_here.py").write_text("def body():\n    return 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        from only_here import body  # type: ignore[import-not-found]  # written just above
    finally:
        sys.path.remove(str(tmp_path))
    try:
        with pytest.raises(IsolatedBodyError, match=r"could not load the body or its inputs"):
            call_isolated(body, {}, 30, "body")
    finally:
        sys.modules.pop("only_here", None)


def test_isolated_body_errors_pickle_with_their_fields() -> None:
    error = IsolatedBodyError("load[3]", "its process exited with code 1.")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.task_run, copy.problem, str(copy)) == (error.task_run, error.problem, str(error))


def test_the_child_module_runs_as_a_script_of_its_own() -> None:
    """``python -m taskrun.isolated_child`` starts (its imports resolve) and refuses junk."""
    done = subprocess.run(
        [sys.executable, "-m", "taskrun.isolated_child"],
        input=b"not a pickle",
        capture_output=True,
        timeout=60,
        env={**os.environ},
    )
    assert done.returncode != 0
    assert b"UnpicklingError" in done.stderr or b"pickle" in done.stderr


# ---- the task option -----------------------------------------------------------------------------
def test_timeout_isolation_is_process_unless_a_task_asks_for_a_thread() -> None:
    from orchestrator import task

    @task(timeout=5)
    def isolated() -> None:
        return None

    assert isolated.timeout_isolation == "process"
    assert isolated.copy(timeout_isolation="thread").timeout_isolation == "thread"


def test_an_unknown_timeout_isolation_is_refused_naming_the_choices() -> None:
    from orchestrator import Task
    from orchestrator.errors import TaskDefinitionError

    expected = r"timeout_isolation='subprocess' is not one of \('process', 'thread'\)"
    with pytest.raises(TaskDefinitionError, match=expected):
        Task(name="guarded", timeout=5, timeout_isolation="subprocess")
    with pytest.raises(TaskDefinitionError, match=expected):
        Task(name="guarded", timeout=5).copy(timeout_isolation="subprocess")
