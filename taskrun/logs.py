"""Task-run logging: the per-task logger, the filter tagging records with their task run,
and per-thread capture of ``print`` output.

``sys.stdout`` is process-wide, so ``contextlib.redirect_stdout`` would mix the
prints of tasks running in parallel threads. Instead one ``_StdoutRouter`` is
installed once; it sends each write to the logger of the task run executing in
that thread (a ``ContextVar``), or to the real stdout otherwise.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from taskrun.context import current

_capture: contextvars.ContextVar[logging.Logger | None] = contextvars.ContextVar(
    "orchestrator_stdout_capture", default=None
)
_install_lock = threading.Lock()
#: task name -> its logger; ``logging.getLogger`` keeps every logger forever too, so this
#: holds nothing longer, and spares each task run its lock and name formatting
_task_loggers: dict[str, logging.Logger] = {}


def stamp_task_run(record: logging.LogRecord) -> bool:
    """Logging filter: tag a record with the task run (``record.task_run_name``) it comes from."""
    if not hasattr(record, "task_run_name"):
        record.task_run_name = current().get("task_run_name")
    return True


def stamp_logger(logger: logging.Logger) -> None:
    """Tag ``logger``'s records with their task run (once: the filter is added only once)."""
    if stamp_task_run not in logger.filters:
        logger.addFilter(stamp_task_run)


def task_logger(task_name: str) -> logging.Logger:
    """The logger user code gets as ``context.logger`` (named as in the reference docs)."""
    found = _task_loggers.get(task_name)
    if found is None:
        found = _task_loggers[task_name] = logging.getLogger(f"orchestrator.Task: {task_name}")
    return found


class _StdoutRouter(io.TextIOBase):
    """Writes to the capturing task logger of the current thread, else to the real stream."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending: dict[int, str] = {}

    def write(self, text: str) -> int:
        target = _capture.get()
        if target is None:
            return self.stream.write(text)
        key = threading.get_ident()
        buffered = self._pending.get(key, "") + text
        *lines, rest = buffered.split("\n")
        self._pending[key] = rest
        for line in lines:
            target.info(line)
        return len(text)

    def flush_thread(self) -> None:
        """Log what the current thread printed without a trailing newline."""
        rest = self._pending.pop(threading.get_ident(), "")
        target = _capture.get()
        if rest and target is not None:
            target.info(rest)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _router() -> _StdoutRouter:
    with _install_lock:
        if not isinstance(sys.stdout, _StdoutRouter):
            sys.stdout = _StdoutRouter(sys.stdout)
        return sys.stdout


@contextlib.contextmanager
def capture_stdout(logger: logging.Logger) -> Iterator[None]:
    """Route this thread's ``print`` output to ``logger`` at INFO inside the block."""
    router = _router()
    token = _capture.set(logger)
    try:
        yield
    finally:
        router.flush_thread()
        _capture.reset(token)
