"""The orchestrator's Dask worker plugin: logging levels, log forwarding and warm imports.

Every worker that runs task runs gets this plugin: ``python -m workers`` installs it
at start, and a ``DaskTaskRunner`` registers it with whatever cluster it connects to,
so plain ``dask worker`` processes get it too. On setup it

- sets the ``orchestrator`` logger to the orchestrator's level, so ``context.logger``
  records exist on the worker at all;
- forwards log records emitted inside task runs (``context.logger``, captured
  ``print`` output, the executor's own lines) to the orchestrator through the
  worker's ``Outbox``, each tagged with its task-run name -- unless the worker
  lives in the orchestrator's own process, where records already reach its handlers --
  and marks them, so the worker's own console handler leaves them to the orchestrator;
- imports the task-run executor, so the first task run does not pay for it.

>>> plugin = OrchestratorPlugin(level="INFO")
>>> plugin.name
'orchestrator'
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from taskrun.dask.outbox import active_run
from taskrun.dask.records import LOG, ForwardedLog
from taskrun.logs import stamp_logger, stamp_task_run

_ROOT = "orchestrator"

_installed = 0
_install_lock = threading.Lock()


def here() -> tuple[str, int]:
    """This process's identity: (host name, process id)."""
    return socket.gethostname(), os.getpid()


class ForwardingHandler(logging.Handler):
    """Sends records emitted inside a task run to the orchestrator (via the run's outbox)."""

    def emit(self, record: logging.LogRecord) -> None:
        active = active_run.get()
        if active is None:
            return
        outbox, channel = active
        try:
            stamp_task_run(record)
            outbox.put(channel, log_record(record))
        except Exception:  # logging must never break a task run
            self.handleError(record)


def log_record(record: logging.LogRecord) -> ForwardedLog:
    """The plain-data form of ``record``: strings and numbers only (message already
    formatted), as ``records.named`` accepts them on the orchestrator."""
    exc_text = record.exc_text
    if record.exc_info and not exc_text:
        exc_text = logging.Formatter().formatException(record.exc_info)
    task_run = getattr(record, "task_run_name", None)
    return ForwardedLog(
        LOG,
        str(record.name),
        int(record.levelno),
        record.getMessage(),
        float(record.created),
        None if task_run is None else str(task_run),
        None if exc_text is None else str(exc_text),
        None if record.threadName is None else str(record.threadName),
    )


class OrchestratorPlugin(WorkerPlugin):
    """Makes a Dask worker ready for orchestrator task runs (see the module docstring).

    Args:
        level: the ``orchestrator`` logger's level on the worker (default: INFO).
        forward_logs: send task-run log records to the orchestrator; default: yes,
            unless the worker runs in the process that created this plugin.
    """

    name = "orchestrator"

    def __init__(self, level: int | str | None = None, forward_logs: bool | None = None) -> None:
        self.level = level if level is not None else logging.INFO
        self.forward_logs = forward_logs
        #: the process that created the plugin (an orchestrator, or ``python -m workers``)
        self.origin = here()
        self._forwarding = False

    def setup(self, worker: Any) -> None:
        logging.getLogger(_ROOT).setLevel(self.level)
        stamp_executor_logs()
        forward = self.forward_logs if self.forward_logs is not None else self.origin != here()
        if forward:
            _install_forwarding()
            self._forwarding = True
        import taskrun.dask.entry  # noqa: F401 - warm the import for the first task run

    def teardown(self, worker: Any) -> None:
        if self._forwarding:
            _remove_forwarding()
            self._forwarding = False

    def __repr__(self) -> str:
        return f"OrchestratorPlugin(level={self.level!r}, forward_logs={self.forward_logs!r})"


def stamp_executor_logs() -> None:
    """Tag the executor's own records with their task run (task loggers are tagged as used)."""
    stamp_logger(logging.getLogger("orchestrator.TaskRunner"))


def _install_forwarding() -> None:
    global _installed
    with _install_lock:
        _installed += 1
        root = logging.getLogger(_ROOT)
        if not any(isinstance(h, ForwardingHandler) for h in root.handlers):
            handler = ForwardingHandler()
            handler.addFilter(mark_forwarded)
            root.handlers.insert(0, handler)  # first: it marks what it forwards


def mark_forwarded(record: logging.LogRecord) -> bool:
    """Filter: mark a record made inside a task run as forwarded to the orchestrator, which
    prints it; this process's console handler (``orchestrator.logging_setup``) then skips it."""
    if active_run.get() is not None:
        record.orchestrator_forwarded = True
    return True


def _remove_forwarding() -> None:
    global _installed
    with _install_lock:
        _installed = max(0, _installed - 1)
        if _installed:
            return
        root = logging.getLogger(_ROOT)
        for handler in [h for h in root.handlers if isinstance(h, ForwardingHandler)]:
            root.removeHandler(handler)
