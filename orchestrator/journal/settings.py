"""Where the run journal lives and whether flow runs write it.

    ORCHESTRATOR_HOME      the directory of runs.db (default ~/.orchestrator)
    ORCHESTRATOR_JOURNAL   off / 0 / false / no: flow runs write no journal

A flow run's own ``journal=`` option wins over the environment: ``True`` writes it
even when the variable says off, ``False`` never, ``None`` (the default) follows the
variable. ``orchestrator run`` names the flow file it runs (``flow_source``) so that
``orchestrator resume RUN_ID`` can load the flow again without being told the file.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from pathlib import Path

HOME_ENV = "ORCHESTRATOR_HOME"
SWITCH_ENV = "ORCHESTRATOR_JOURNAL"
#: the journal's file name inside the home directory
FILE_NAME = "runs.db"

_OFF = frozenset({"off", "0", "false", "no"})


def orchestrator_home() -> Path:
    """``$ORCHESTRATOR_HOME``, else ``~/.orchestrator`` (not created here)."""
    given = os.environ.get(HOME_ENV)
    return Path(given).expanduser() if given else Path.home() / ".orchestrator"


def journal_path() -> Path:
    """The default journal file: ``<home>/runs.db``."""
    return orchestrator_home() / FILE_NAME


_SOURCE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "orchestrator_flow_source", default=None
)


@contextlib.contextmanager
def flow_source(source: str) -> Iterator[None]:
    """Flow runs started inside record ``source`` (``/abs/flow.py[:VARIABLE]``)."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)


def current_source() -> str | None:
    """The flow file runs started here come from, if ``flow_source`` said."""
    return _SOURCE.get()


def is_journal_wanted(option: bool | None) -> bool:
    """Whether a flow run writes the journal, given its ``journal=`` option."""
    if option is not None:
        return bool(option)
    return os.environ.get(SWITCH_ENV, "on").strip().lower() not in _OFF
