"""Default console logging for the ``orchestrator`` logger tree.

One handler on the ``orchestrator`` logger prints ``[time] LEVEL - name | message``.
Turn it off with ``ORCHESTRATOR_LOGGING=off`` or ``disable_console_logging()``;
records still propagate to the root logger for applications that configure their own.
"""

from __future__ import annotations

import logging
import os
import sys

_HANDLER_NAME = "orchestrator-console"
FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"


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
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)


def disable_console_logging() -> None:
    """Remove the default console handler."""
    root = logging.getLogger("orchestrator")
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
