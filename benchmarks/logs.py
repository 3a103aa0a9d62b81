"""Quiet logging for a benchmark's timed part, put back as it was when the benchmark ends.

Per-task-run INFO lines would dominate the timings, so a benchmark keeps warnings and errors
only. A benchmark's ``main`` is also called in-process (its smoke tests): the levels it
lowered must not stay lowered for whatever runs next in that process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

#: logger name -> the level a benchmark runs it at
QUIET_LEVELS = {
    "orchestrator": logging.WARNING,
    "workers": logging.WARNING,
    "taskrun": logging.WARNING,
    "distributed": logging.ERROR,
}


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Run the body with ``QUIET_LEVELS``; every logger gets its own level back after."""
    loggers = {name: logging.getLogger(name) for name in QUIET_LEVELS}
    before = {name: logger.level for name, logger in loggers.items()}
    for name, logger in loggers.items():
        logger.setLevel(QUIET_LEVELS[name])
    try:
        yield
    finally:
        for name, logger in loggers.items():
            logger.setLevel(before[name])
