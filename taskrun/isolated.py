"""The isolated body call: a task's body in a child process, stopped when its timeout passes.

Python cannot stop a thread, but it can stop a process. So a body with a ``timeout`` runs
here (unless its task says ``timeout_isolation="thread"``), one child process per
attempt, and the attempt returns only once that process is gone:

    parent (the executor's thread)                child: python -m taskrun.isolated_child
    spawn, write (sys.path, label, pickled  --->  read stdin, set sys.path, load the body
      body, kwargs, context keys, log levels)     ("S") started: the timeout clock starts
    read frames until the outcome           <---  ("P") printed text   -> sys.stdout here
                                                  ("L") a log record   -> its logger here
                                                  ("R") the outcome, then the child exits
    the timeout passes -> SIGTERM to the child's process group, SIGKILL after
                          ``KILL_GRACE_SECONDS``, wait for it to die, raise BodyTimedOut

What the body raises comes back as it is (signals, errors, with the child's traceback
added as a note); ``print`` output reaches this process's ``sys.stdout`` (so
``log_stdout`` still works) and log records its loggers (so they reach the orchestrator
from a Dask worker as usual). The clock starts when the body starts: the process start
(about 0.1-0.3 s: an interpreter, ``taskrun``, the body's module) does not count against
the timeout, but may take at most ``START_SECONDS``.

Costs, per attempt: that process start, and pickling (cloudpickle) the body, its inputs
and the run's context keys into the child, and its result or error back out. The body,
its inputs and its result must therefore pickle. POSIX only (pipes in a selector,
process groups).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

import cloudpickle

from taskrun.context import current

#: seconds a timed-out body's process gets after SIGTERM before SIGKILL
KILL_GRACE_SECONDS = 0.5
#: seconds the child may take to start and load the body before the timeout clock starts
START_SECONDS = 60.0

#: frame tags, child -> parent (one byte each)
STARTED, PRINTED, LOGGED, OUTCOME = b"S", b"P", b"L", b"R"
_HEADER = struct.Struct(">cI")
#: the directory holding the ``taskrun`` package: the child imports its main from there
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BodyTimedOut(Exception):
    """The body ran past its timeout (raised to ``body_call``, which reports ``TimedOut``)."""


class IsolatedBodyError(Exception):
    """The process running a task's body (for its ``timeout``) could not do its part.

    Raised in the executor's thread (the task run then ends ``Failed``, retries apply):
    the body or its inputs do not pickle, the process did not start or died before
    answering, or the body's result or error could not come back.
    """

    def __init__(self, task_run: str, problem: str) -> None:
        super().__init__(task_run, problem)
        self.task_run, self.problem = task_run, problem

    def __str__(self) -> str:
        return (
            f"Task {self.task_run!r}: {self.problem} A task with a timeout runs its body in a "
            "separate process (so the timeout can stop it); if that cannot work for this "
            "task, use @task(timeout=..., timeout_isolation='thread'), which reports the "
            "timeout on time but cannot stop the body."
        )


def call_isolated(
    body: Callable[..., Any], kwargs: dict[str, Any], timeout: float, label: str
) -> Any:
    """``body(**kwargs)`` in a child process, within ``timeout`` seconds; returns its value.

    Raises:
        BodyTimedOut: the timeout passed; the child process is dead.
        IsolatedBodyError: see the class.
        Exception: whatever the body raised.
    """
    payload = _payload(body, kwargs, label)
    process = _spawn(label)
    outcome: bytes | None = None
    try:
        _send(process, payload, label)
        outcome = _await_outcome(process, timeout, label)
    finally:
        _stop(process, answered=outcome is not None)
    return _unpack(outcome, label)


# ---- into the child ------------------------------------------------------------------------------
def _payload(body: Callable[..., Any], kwargs: dict[str, Any], label: str) -> bytes:
    """What the child reads: plain pickle of (sys.path, label, cloudpickled call), so the
    child can set its path before anything of the user's is imported."""
    keys: Mapping[str, Any] = current()
    levels = _levels(keys)
    try:
        inner = cloudpickle.dumps((body, kwargs, keys, levels))
    except Exception:  # boundary: user objects refuse pickling in any way
        try:
            cloudpickle.dumps((body, kwargs))
        except Exception as err:
            problem = f"its body or inputs cannot be pickled ({type(err).__name__}: {err})."
            raise IsolatedBodyError(label, problem) from err
        keys = {key: value for key, value in keys.items() if _pickles(value)}
        inner = cloudpickle.dumps((body, kwargs, keys, levels))
    return pickle.dumps((list(sys.path), label, inner))


def _pickles(value: Any) -> bool:
    try:
        cloudpickle.dumps(value)
    except Exception:  # a context key the child goes without
        return False
    return True


def _levels(keys: Mapping[str, Any]) -> dict[str, int]:
    """Effective levels of the loggers a body most likely uses, for the child to copy."""
    names = ["", "orchestrator"]
    task_logger = keys.get("logger")
    if isinstance(task_logger, logging.Logger):
        names.append(task_logger.name)
    return {name: logging.getLogger(name).getEffectiveLevel() for name in names}


def _spawn(label: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "taskrun.isolated_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: stopping it stops its children
        )
    except OSError as err:
        raise IsolatedBodyError(label, f"the process for its body did not start ({err}).") from err


def _send(process: subprocess.Popen[bytes], payload: bytes, label: str) -> None:
    stdin = process.stdin
    assert stdin is not None  # Popen(stdin=PIPE) sets it
    try:
        with stdin:
            stdin.write(payload)
    except OSError as err:  # BrokenPipeError: the child died at start
        problem = f"the process for its body stopped before reading its inputs ({err})."
        raise IsolatedBodyError(label, problem) from err


# ---- out of the child ----------------------------------------------------------------------------
def _await_outcome(process: subprocess.Popen[bytes], timeout: float, label: str) -> bytes:
    """Relay the child's frames until its outcome; ``BodyTimedOut`` past the deadline."""
    stdout = process.stdout
    assert stdout is not None  # Popen(stdout=PIPE) sets it
    fd = stdout.fileno()
    os.set_blocking(fd, False)
    buffer = bytearray()
    deadline = time.monotonic() + START_SECONDS + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BodyTimedOut(label)
            if not selector.select(remaining):
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                raise _died(process, label)
            buffer += chunk
            for tag, body in _frames(buffer):
                if tag == OUTCOME:
                    return body
                if tag == STARTED:
                    deadline = time.monotonic() + timeout
                elif tag == PRINTED:
                    sys.stdout.write(body.decode("utf-8", "replace"))
                elif tag == LOGGED:
                    _emit(body)


def _frames(buffer: bytearray) -> Iterator[tuple[bytes, bytes]]:
    """The complete frames at the start of ``buffer``, removed from it as they are read."""
    while len(buffer) >= _HEADER.size:
        tag, length = _HEADER.unpack_from(buffer)
        end = _HEADER.size + length
        if len(buffer) < end:
            return
        body = bytes(buffer[_HEADER.size : end])
        del buffer[:end]
        yield tag, body


def write_frame(stream: BinaryIO, tag: bytes, body: bytes = b"") -> None:
    """One frame on ``stream`` (the child's side of the protocol; callers hold its lock)."""
    stream.write(_HEADER.pack(tag, len(body)) + body)
    stream.flush()


def _emit(body: bytes) -> None:
    """Hand a log record from the child to this process's logger of the same name."""
    record = logging.makeLogRecord(json.loads(body))
    target = logging.getLogger(record.name)
    if target.isEnabledFor(record.levelno):
        target.handle(record)


def _died(process: subprocess.Popen[bytes], label: str) -> IsolatedBodyError:
    try:
        code = process.wait(KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        code = None
    if code is None:
        how = "closed its output"
    else:
        how = f"exited with code {code}" if code >= 0 else _signalled(-code)
    problem = (
        f"the process running its body {how} before it returned (something killed it, or "
        "the body ended its process, e.g. with os._exit)."
    )
    return IsolatedBodyError(label, problem)


def _signalled(number: int) -> str:
    with contextlib.suppress(ValueError):
        return f"was killed by {signal.Signals(number).name}"
    return f"was killed by signal {number}"


def _unpack(outcome: bytes, label: str) -> Any:
    try:
        kind, value, trace = cloudpickle.loads(outcome)
    except Exception as err:  # boundary: the result's classes may not load here
        problem = f"its result could not be loaded back ({type(err).__name__}: {err})."
        raise IsolatedBodyError(label, problem) from err
    if kind == "value":
        return value
    if trace:
        value.add_note(f"Raised in the task's process:\n{trace}")
    raise value


def _stop(process: subprocess.Popen[bytes], answered: bool) -> None:
    """Wait until the child is gone. One that answered exits on its own; any other (or
    one that lingers) is stopped with its process group: SIGTERM, then SIGKILL."""
    try:
        process.wait(KILL_GRACE_SECONDS if answered else 0)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _signal_group(process: subprocess.Popen[bytes], number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, number)
