"""The log lines of a ``@flow`` task run's final state, on ``orchestrator.task_runs``.

Task run 'add-80de7cb5-1' finished in state Completed(...)
Task run 'div-1a2b3c4d-0' encountered exception:  + the traceback (a worker's text, as
                                                    sent: nothing is unpickled to log it)
"""

from __future__ import annotations

import logging
from typing import Any

from taskrun.states import DeferredResult, State

task_logger = logging.getLogger("orchestrator.task_runs")


def log_final_state(future: Any, state: State) -> None:
    """Log ``future``'s final ``state`` once (a failure with its traceback)."""
    failed = state.is_failed()
    if not task_logger.isEnabledFor(logging.ERROR if failed else logging.INFO):
        return
    error = state._result if failed else None  # as stored: nothing unpickled to log it
    if isinstance(error, DeferredResult):  # an error still pickled: its worker traceback
        shown = f"{error.type_name}: {error.text}" if error.text else error.type_name
        entry = task_logger.makeRecord(
            task_logger.name,
            logging.ERROR,
            __file__,
            0,
            "Task run %r encountered exception:",
            (future.name,),
            None,
        )
        entry.exc_text = (error.traceback or shown).rstrip()  # shown as exc_info would be
        task_logger.handle(entry)
    elif isinstance(error, BaseException):
        task_logger.error(
            "Task run %r encountered exception:",
            future.name,
            exc_info=(type(error), error, error.__traceback__),
        )
    task_logger.log(
        logging.ERROR if failed else logging.INFO,
        "Task run %r finished in state %r",
        future.name,
        state,
    )
