"""Default console logging for the ``orchestrator`` logger tree.

One handler on the ``orchestrator`` logger prints ``[time] LEVEL - name | message``; a line a
task logged (``context.logger``, captured ``print``) also names its task run:
``[time] LEVEL - orchestrator.Task: add | add-1a2b3c4d-0 | message``, so the lines of mapped
children can be told apart. Turn it off with ``ORCHESTRATOR_LOGGING=off`` or
``disable_console_logging()``; records still propagate to the root logger for applications
that configure their own.

Each record is printed once, by the process that runs the flow: a Dask worker process
forwards its task runs' records to the orchestrator (``taskrun.dask.plugin``) and marks them
``orchestrator_forwarded``, so its own copy of this handler skips them. Records a worker logs
outside task runs are not forwarded and print on the worker's stderr.
"""

from __future__ import annotations

import logging
import os
import sys

from taskrun.logs import stamp_task_run

_HANDLER_NAME = "orchestrator-console"
FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"
TASK_RUN_FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(task_run_name)s | %(message)s"
#: the loggers user code writes to (``taskrun.logs.task_logger``)
_TASK_LOGGERS = "orchestrator.Task: "
#: set on a record a Dask worker forwards to the orchestrator (``taskrun.dask.plugin``)
FORWARDED = "orchestrator_forwarded"


class ConsoleFormatter(logging.Formatter):
    """``FORMAT``, or ``TASK_RUN_FORMAT`` for a task logger's record made inside a task run."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._task_run = logging.Formatter(TASK_RUN_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if record.name.startswith(_TASK_LOGGERS) and getattr(record, "task_run_name", None):
            return self._task_run.format(record)
        return super().format(record)


def printed_here(record: logging.LogRecord) -> bool:
    """Console filter: tag ``record`` with its task run; drop it if it was forwarded to the
    orchestrator, which prints it (see the module docstring)."""
    if getattr(record, FORWARDED, False):
        return False
    stamp_task_run(record)
    return True


def configure_logging(level: str | int | None = None) -> None:
    """Install the console handler once (unless turned off by the environment)."""
    root = logging.getLogger("orchestrator")
    root.setLevel(level or os.environ.get("ORCHESTRATOR_LOG_LEVEL", "INFO").upper())
    if os.environ.get("ORCHESTRATOR_LOGGING", "on").lower() in ("off", "0", "false", "no"):
        return
    if any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(printed_here)
    root.addHandler(handler)


def disable_console_logging() -> None:
    """Remove the default console handler."""
    root = logging.getLogger("orchestrator")
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
