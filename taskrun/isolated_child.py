"""The child process of an isolated body call: ``python -m taskrun.isolated_child``.

It reads one call from stdin (``taskrun.isolated`` writes it), runs the body once in
the run's context, sends frames to its stdout (``taskrun.isolated`` describes them) and
exits. Its file descriptor 1 is pointed at stderr first, so nothing but frames reaches the
parent's pipe: ``print`` output travels as frames, and a C library writing to fd 1 lands
on stderr. It also exits as soon as its parent is gone, so a killed worker leaves no
body running behind it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, NoReturn

import cloudpickle

from taskrun.context import enter
from taskrun.isolated import LOGGED, OUTCOME, PRINTED, STARTED, IsolatedBodyError, write_frame
from taskrun.signals import Signal

#: seconds between two looks at whether the parent process is still there
PARENT_CHECK_SECONDS = 1.0
#: LogRecord attributes rebuilt in the parent from other fields, or not plain data
_NOT_SENT = frozenset({"args", "exc_info", "msg", "message"})


class _Channel:
    """The frames pipe to the parent; threads of the body may log at the same time."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, tag: bytes, body: bytes = b"") -> None:
        with self.lock:
            write_frame(self.stream, tag, body)


def main() -> None:
    channel = _Channel(_take_stdout())
    path, label, inner = pickle.loads(sys.stdin.buffer.read())
    sys.path[:] = path  # before anything of the user's is imported
    _watch_parent(os.getppid())
    try:
        body, kwargs, keys, levels = cloudpickle.loads(inner)
    except BaseException as err:  # boundary: the body's modules may not import here
        problem = (
            f"its process could not load the body or its inputs ({type(err).__name__}: "
            f"{err}); their modules must be importable there (the parent's sys.path is used)."
        )
        channel.send(OUTCOME, _error(IsolatedBodyError(label, problem), label))
        _exit()
    _forward_logs(channel, levels)
    sys.stdout = _printing(channel)
    enter(keys)
    channel.send(STARTED)
    outcome = _call(body, kwargs, label)
    sys.stdout.flush()
    channel.send(OUTCOME, outcome)
    _exit()


def _call(body: Callable[..., Any], kwargs: Mapping[str, Any], label: str) -> bytes:
    """The pickled outcome of ``body(**kwargs)``: ("value", value, None) or ("error", ...)."""
    try:
        value = body(**kwargs)
    except Exception as err:  # boundary: the body's error goes back as it is
        return _error(err, label)
    except BaseException as err:  # SystemExit and the like: they end this process only
        problem = f"its body raised {err!r}, which ends the process it runs in."
        return _error(IsolatedBodyError(label, problem), label, _trace(err))
    try:
        return bytes(cloudpickle.dumps(("value", value, None)))
    except Exception as err:  # boundary: user objects refuse pickling in any way
        problem = (
            f"its result, a {type(value).__name__}, cannot be pickled back "
            f"({type(err).__name__}: {err}); return plain data."
        )
        return _error(IsolatedBodyError(label, problem), label)


def _error(err: BaseException, label: str, trace: str | None = None) -> bytes:
    if trace is None and not isinstance(err, Signal | IsolatedBodyError):
        trace = _trace(err)
    try:
        return bytes(cloudpickle.dumps(("error", err, trace)))
    except Exception:  # boundary: an error that does not pickle comes back as its text
        problem = f"its body raised {type(err).__qualname__}: {err} (which cannot be pickled)."
        return bytes(cloudpickle.dumps(("error", IsolatedBodyError(label, problem), trace)))


def _trace(err: BaseException) -> str:
    return "".join(traceback.format_exception(err))


def _take_stdout() -> BinaryIO:
    """The frames pipe (the original fd 1); fd 1 itself now writes to stderr."""
    frames = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(frames, "wb")


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="orchestrator-parent-watch").start()


class _PrintFrames(io.RawIOBase):
    """The bytes of ``print`` output, as PRINTED frames."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self.channel = channel

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.channel.send(PRINTED, chunk)
        return len(chunk)


def _printing(channel: _Channel) -> io.TextIOWrapper:
    raw = io.BufferedWriter(_PrintFrames(channel))
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", line_buffering=True)


class _LogFrames(logging.Handler):
    """Each log record as a LOGGED frame: JSON of its plain fields, message formatted."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {
                key: value
                for key, value in vars(record).items()
                if key not in _NOT_SENT and isinstance(value, str | int | float | bool | None)
            }
            fields["msg"] = record.getMessage()
            if record.exc_info and not record.exc_text:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            self.channel.send(LOGGED, json.dumps(fields).encode())
        except Exception:  # logging must never break the body
            self.handleError(record)


def _forward_logs(channel: _Channel, levels: Mapping[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().addHandler(_LogFrames(channel))


def _exit() -> NoReturn:
    """Leave at once: threads the body started must not keep the process alive."""
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
