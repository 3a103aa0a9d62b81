"""Log records forwarded from Dask workers, re-emitted through this process's logging.

A task run's log records (``context.logger``, captured ``print`` output, the executor's
own lines) reach the orchestrator as ``ForwardedLog`` records inside its workers' sealed
events (``taskrun.dask.plugin`` builds them): plain strings and numbers, the message
already formatted. ``emit_log`` hands each to the logger it was emitted on, tagged with
its task run and worker, as if it had been logged here. Nothing in it is a format string
or code: the message is used as is (``args`` is None).
"""

from __future__ import annotations

import logging

from taskrun.dask.records import ForwardedLog


def emit_log(log: ForwardedLog, worker: str | None) -> None:
    """Re-emit a log record forwarded from a worker through this process's logging."""
    target = logging.getLogger(log.logger)
    if not target.isEnabledFor(log.levelno):
        return
    entry = logging.makeLogRecord(
        {
            "name": log.logger,
            "levelno": log.levelno,
            "levelname": logging.getLevelName(log.levelno),
            "msg": log.message,
            "args": None,
            "created": log.created,
            "msecs": (log.created % 1) * 1000,
            "exc_text": log.exc_text,
            "task_run_name": log.task_run_name,
            "threadName": log.thread,
            "worker": worker,
        }
    )
    target.handle(entry)
