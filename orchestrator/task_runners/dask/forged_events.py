"""Events on a session's topic that its workers did not sign: dropped, counted, reported.

Every client of a Dask scheduler may publish on any event topic (``Client.log_event``),
and the scheduler lists its topics to anyone who asks. A session reads only events
sealed with its secret (``taskrun.dask.sealing``); anything else on its topic came from
another client of the scheduler. ``ForgedEvents`` counts those and logs one WARNING per
topic, a moment after the first (so a burst is reported as one count), or when the
session closes if that comes first. Nothing of a dropped event is read beyond its seal.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("orchestrator.DaskTaskRunner")

#: seconds between the first dropped event and the warning (a burst counts as one report)
REPORT_AFTER_SECONDS = 1.0


class ForgedEvents:
    """The count of unsigned events on one topic, and its one warning."""

    def __init__(self, topic: str, loop: Any = None) -> None:
        self.topic = topic
        #: the client's event loop (``call_later``); None: report at once
        self.loop = loop
        self.count = 0
        self.warned = False
        self._scheduled = False
        self._lock = threading.Lock()

    def dropped(self) -> None:
        """One more event not signed by this run's workers (called on the event loop)."""
        with self._lock:
            self.count += 1
            if self._scheduled or self.warned:
                return
            self._scheduled = True
        call_later = getattr(self.loop, "call_later", None)
        if call_later is None:
            self.report()
        else:
            call_later(REPORT_AFTER_SECONDS, self.report)

    def report(self) -> None:
        """Log the warning, once, if any event was dropped."""
        with self._lock:
            if self.warned or not self.count:
                return
            self.warned = True
            count = self.count
        logger.warning(
            "Dropped %d event%s on topic %s that were not signed by this run's workers: "
            "another client of the scheduler published them. Task states come only from "
            "this run's workers; if this is unexpected, restrict who can reach the "
            "scheduler (DaskTaskRunner(security=...) with TLS).",
            count,
            "" if count == 1 else "s",
            self.topic,
        )
