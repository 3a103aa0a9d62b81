"""The public signals (path ``orchestrator.engine.signals``)."""

from taskrun.signals import (
    ENDRUN,
    FAIL,
    LOOP,
    PAUSE,
    RETRY,
    SKIP,
    SUCCESS,
    TIMEOUT,
    TRIGGERFAIL,
    VALIDATIONFAIL,
    Signal,
    signal_from_state,
)

__all__ = [
    "ENDRUN", "FAIL", "LOOP", "PAUSE", "RETRY", "SKIP", "SUCCESS", "TIMEOUT", "TRIGGERFAIL",
    "VALIDATIONFAIL", "Signal", "signal_from_state",
]  # fmt: skip
