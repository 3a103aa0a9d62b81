"""The public signals (path ``orchestrator.engine.signals``)."""

from taskrun.signals import ENDRUN, FAIL, PAUSE, RETRY, SKIP, SUCCESS, TIMEOUT, TRIGGERFAIL, Signal

__all__ = [
    "ENDRUN",
    "FAIL",
    "PAUSE",
    "RETRY",
    "SKIP",
    "SUCCESS",
    "TIMEOUT",
    "TRIGGERFAIL",
    "Signal",
]
